"""The README a newcomer reads in two minutes, and the user guide in docs/: short, with the two set-up commands,
and no relative link left broken (mkdocs checks the guide's own links too, in .ci/run)."""
from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
SETUP = (  # checked as they stand: the first installs htr and reads a page, the second runs these tests
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/htr page examples/letter.jpg",
    'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest',
)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def prose(text: str) -> str:
    """The text without its fenced code blocks and code spans (a link in code is not a link)."""
    text = re.sub(r"^(```|~~~).*?^\1\s*$", "", text, flags=re.M | re.S)
    return re.sub(r"(`+).+?\1", "", text, flags=re.S)


def slug(heading: str) -> str:
    """A heading's anchor as Python-Markdown's toc (mkdocs) and GitHub make it, for the headings used here."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^(```|~~~).*?^\1\s*$", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {slug(m.group(2)) for line in text.splitlines() if (m := HEADING.match(line))}


def relative_links(path: Path) -> list[str]:
    found = LINK.findall(prose(path.read_text(encoding="utf-8")))
    return [t for t in found if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]  # http:, https:, mailto: ...


def test_readme_is_short_and_has_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200, "README.md: at most 200 lines (the guide is docs/)"
    for command in SETUP:
        assert f"```sh\n{command}\n```" in text, f"README.md lost a set-up command: {command}"
    assert ".venv/bin/python -m pytest" in (REPO / ".ci" / "run").read_text(), ".ci/run runs the README's tests"


def test_every_guide_page_is_in_the_nav():
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    for page in sorted(DOCS.rglob("*.md")):
        assert re.search(rf":\s*{re.escape(page.relative_to(DOCS).as_posix())}\s*$", nav, re.M), page


@pytest.mark.parametrize("path", pages(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve(path):
    broken = []
    for target in relative_links(path):
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
            continue
        if path.is_relative_to(DOCS) and not dest.is_relative_to(DOCS):
            broken.append(f"{target}: outside docs/ (mkdocs cannot resolve it; write the path as code)")
            continue
        if dest.is_dir():
            broken.append(f"{target}: a folder (link to a page in it)")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(REPO)}")
    assert not broken, f"{path.relative_to(REPO)}: " + "; ".join(broken)


def test_links_are_found():
    """The link finder itself: links in prose count, links in code do not, URLs are not relative."""
    text = "[a](docs/x.md#y) `[b](c.md)` ![i](img/v.png) [u](https://x.org)\n```\n[d](e.md)\n```\n"
    found = LINK.findall(prose(text))
    assert found == ["docs/x.md#y", "img/v.png", "https://x.org"]
    assert slug("Fine-tuning on your own pages") == "fine-tuning-on-your-own-pages"
    assert slug("Correcting pages: `htr view`") == "correcting-pages-htr-view"


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "index.html").exists()
