"""The committed example outputs are what the shipped weights print: a newcomer checks an install against them.

Replacing htr/weights/ (or changing how a page is read) makes these tests fail until the examples are
regenerated: ``python examples/make_examples.py`` (fp32, as ``htr page --precision fp32`` prints on any CPU).
"""
import difflib
import subprocess
import sys
from pathlib import Path

import pytest

from htr.formats import write_document

EXAMPLES = Path(__file__).parent.parent / "examples"
NAMES = ("letter", "form", "notes")
REGENERATE = "the shipped weights no longer print the committed examples: run python examples/make_examples.py"


@pytest.fixture(scope="module")
def reader():
    from htr.pipeline import Reader

    return Reader(precision="fp32")


@pytest.mark.parametrize("name", NAMES)
def test_example_text_is_what_the_shipped_weights_print(reader, name):
    printed = write_document(reader.read(EXAMPLES / f"{name}.jpg"), "text")
    committed = (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8")
    diff = "\n".join(difflib.unified_diff(committed.splitlines(), printed.splitlines(), f"examples/{name}.txt",
                                          "htr page --precision fp32", lineterm=""))
    assert printed == committed, f"{REGENERATE}\n{diff}"


def test_page_reads_the_image_from_stdin():
    """`htr page - < examples/letter.jpg` prints what `htr page examples/letter.jpg` prints."""
    result = subprocess.run([sys.executable, "-m", "htr.cli", "page", "-", "--precision", "fp32"],
                            input=(EXAMPLES / "letter.jpg").read_bytes(), capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode("utf-8") == (EXAMPLES / "letter.txt").read_text(encoding="utf-8")
