"""The package as installed: a light ``import htr``, and a wheel that carries the weights and reads a page."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = ("det.pt", "rec.pt", "lm.json.gz")
SOURCES = ("pyproject.toml", "setup.cfg", "README.md", "htr")  # what the build reads


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)


def test_import_is_light_and_lazy():
    code = ("import sys, htr; assert 'torch' not in sys.modules, 'import htr loaded torch'; "
            "from htr import read_page, read_document, Reader, ReaderOptions, Page, Document; import htr.pipeline as p; "
            "assert 'torch' not in sys.modules, 'the lazy names loaded torch'; "
            "assert read_page is p.read_page and read_document is p.read_document and Reader is p.Reader; "
            "assert Page is htr.document.Page and Document is htr.document.Document and ReaderOptions is p.ReaderOptions")
    r = run(sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr


def installed(dist: str) -> tuple[int, ...] | None:
    """The installed version of ``dist`` (major, minor), or None; read from metadata, nothing imported."""
    try:
        return tuple(int(part) for part in metadata.version(dist).split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return None


def cannot_build() -> str | None:
    """Why no wheel can be built offline here (with this environment's build backend), or None."""
    if installed("pip") is None:
        return "pip is not installed"
    setuptools = installed("setuptools")
    if setuptools is None or setuptools < (64,):
        return "setuptools >= 64 (the build backend) is not installed"
    if setuptools < (70, 1) and installed("wheel") is None:
        return "setuptools < 70.1 without the wheel package has no bdist_wheel"
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built offline from a copy of the sources (so build/ and egg-info stay out of the repo)."""
    if reason := cannot_build():
        pytest.skip(f"cannot build a wheel: {reason}")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    r = run(sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index",
            "-q", "-w", str(tmp / "dist"))
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = (tmp / "dist").glob("htr-*.whl")
    return whl


def test_wheel_carries_the_weights(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name in WEIGHTS + ("MODEL_CARD.md",):
            assert f"htr/weights/{name}" in names
        for name in WEIGHTS:
            assert z.read(f"htr/weights/{name}") == (REPO / "htr" / "weights" / name).read_bytes(), name


def test_wheel_reads_a_page_from_anywhere(wheel, tmp_path):
    """The wheel in a fresh venv (no editable htr) reads examples/letter.jpg with cwd elsewhere. The venv gets
    this environment's dependencies through a .pth line; .pth files in that folder, such as the editable
    install's finder, are not run, so only the wheel's htr can be imported."""
    venv = tmp_path / "venv"
    r = run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    assert r.returncode == 0, r.stderr
    python = venv / "bin" / "python"
    r = run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
            str(wheel))
    assert r.returncode == 0, r.stdout + r.stderr
    site = run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    site = Path(site)
    deps = dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib"))  # torch sits in platlib
    (site / "zz_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}

    r = run(str(python), "-c", "import htr.paths as p; print(p.WEIGHTS_DIR)", cwd="/tmp", env=env)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == site / "htr" / "weights"  # the wheel's htr, not the repository's

    r = run(str(venv / "bin" / "htr"), "page", str(REPO / "examples" / "letter.jpg"), cwd="/tmp", env=env)
    assert r.returncode == 0, r.stderr
    expected = (REPO / "examples" / "letter.txt").read_text(encoding="utf-8").split()
    read = set(r.stdout.split())
    assert sum(w in read for w in expected) >= len(expected) / 2, r.stdout
