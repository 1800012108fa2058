"""`htr batch --scheduler`: a dozen small pages read by a real Dask cluster (`dask scheduler` and two
`dask worker` processes on 127.0.0.1, or `local:2`), one worker killed mid-run, one page that kills every
worker that reads it; outputs, manifest and failures as a local batch writes them; a rerun that resumes."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from htr import batch
from htr.cli import main
from htr.formats import read_document
from htr.paths import WEIGHTS_DIR
from tests.test_synth import fonts_subset  # noqa: F401 (fixture)

distributed = pytest.importorskip("distributed",
                                  reason="`htr batch --scheduler` needs Dask: pip install 'htr[cluster]'")

MISSING = [f"htr/weights/{name}" for name in ("det.pt", "rec.pt") if not (WEIGHTS_DIR / name).is_file()]
needs_weights = pytest.mark.skipif(bool(MISSING), reason=f"{' and '.join(MISSING)} not found: the workers "
                                                         "need the trained detector and recogniser")
KEYS = [f"p{i:02d}" for i in range(6)] + [f"sub/s{i:02d}" for i in range(6)]
CRASHING = "sub/s03"


@pytest.fixture(scope="module")
def in_dir(tmp_path_factory, fonts_subset) -> Path:  # noqa: F811 (fonts fetched into the cache when missing)
    """Twelve pages of 800 px on the long side: six PNGs and, in a sub-folder, six JPEGs."""
    from htr.synth.pages import render_page

    root = tmp_path_factory.mktemp("scans")
    (root / "sub").mkdir()
    for i in range(6):
        image = Image.fromarray(render_page(np.random.default_rng(100 + i))[0])
        scale = 800 / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        image.copy().save(root / f"p{i:02d}.png")
        image.copy().save(root / f"sub/s{i:02d}.jpg", quality=90)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "HTR_TEST_"))}
    return {**env, **extra}


def stop(process: subprocess.Popen) -> None:
    """Kill a process started in a session of its own and its children (a worker's nanny and worker)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@contextmanager
def dask_cluster(logs: Path, workers: int = 2):
    """`dask scheduler` and `dask worker --nthreads 1` processes on 127.0.0.1: (address, worker processes)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    started = []
    try:
        started.append(subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                         "--no-dashboard"], stdout=subprocess.DEVNULL,
                                        stderr=open(logs / "scheduler.log", "w"), env=environment(),
                                        start_new_session=True))
        for n in range(workers):
            started.append(subprocess.Popen([*dask, "worker", address, "--nthreads", "1", "--no-dashboard",
                                             "--name", f"w{n}"], stdout=subprocess.DEVNULL,
                                            stderr=open(logs / f"worker{n}.log", "w"), env=environment(),
                                            start_new_session=True))
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address, started[1:]
    finally:
        for process in reversed(started):
            stop(process)


def htr_batch(in_dir: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "htr.cli", "batch", str(in_dir), str(out), "--formats", "page,text",
            "--quiet", *options]


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / batch.MANIFEST).read_text().splitlines()]


def failures(out: Path) -> list[list[str]]:
    rows = [line.split("\t") for line in (out / batch.FAILURES).read_text().splitlines()]
    assert rows[0] == ["input", "page", "error"]
    return rows[1:]


def check_outputs(out: Path, keys: list[str]) -> None:
    """Each key's outputs there and whole, one manifest line each, nothing else written."""
    records = manifest(out)
    assert sorted(r["input"].rsplit(".", 1)[0] for r in records) == sorted(keys)  # each page once
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == {k + s for k in keys for s in (".page.xml", ".txt")} | {batch.MANIFEST, batch.FAILURES}
    for r in records:
        doc = read_document(out / r["outputs"][0])
        assert r["lines"] == len(doc.lines) > 0, r
        assert doc.text.split() == (out / r["outputs"][1]).read_text().split(), r


def test_scheduler_option_errors(tmp_path, monkeypatch, capsys):
    for bad in (["--scheduler", "local:0"], ["--scheduler", "somewhere"],
                ["--workers", "2", "--scheduler", "local:2"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["batch", str(tmp_path), str(tmp_path / "out"), *bad])
        assert exit_info.value.code == 2, bad
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "htr.batch.cluster", raising=False)
    assert main(["batch", str(tmp_path), str(tmp_path / "out"), "--scheduler", "local:2"]) == 1
    assert "pip install 'htr[cluster]'" in capsys.readouterr().err


@needs_weights
def test_a_worker_killed_mid_run_costs_nothing_and_a_rerun_writes_nothing(in_dir, tmp_path):
    out = tmp_path / "out"
    with dask_cluster(tmp_path) as (address, workers):
        command = htr_batch(in_dir, out, "--scheduler", address)
        with open(tmp_path / "first.err", "w") as stderr:
            run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=environment())
            deadline = time.monotonic() + 120
            while not list(out.rglob("*.page.xml")) and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert run.poll() is None, "the run ended before a worker could be killed"
            stop(workers[0])  # nanny and worker at once, as a lost machine
            code = run.wait(timeout=180)
        err = (tmp_path / "first.err").read_text()
        assert code == 0, err
        assert "12 done, 0 skipped, 0 failed" in err, err
        assert "2 of the workers run with MALLOC_TRIM_THRESHOLD_ set" in err, err  # `dask worker` as it comes
        check_outputs(out, KEYS)
        assert failures(out) == []
        first = manifest(out)
        mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.suffix in (".xml", ".txt")}

        second = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment())
        assert second.returncode == 0, second.stderr
        assert "12 already done, skipped; 0 to read" in second.stderr
        assert manifest(out) == first
        assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.suffix in (".xml", ".txt")} == mtimes
    assert "Remove worker addr" in (tmp_path / "scheduler.log").read_text()  # the scheduler saw it go


@needs_weights
def test_a_page_that_kills_its_workers_is_listed_as_failed(in_dir, tmp_path):
    out = tmp_path / "out"
    # Two tries (one allowed failure), each killing the worker that reads the page; its nanny restarts it.
    env = environment(HTR_TEST_CRASH_ON=CRASHING, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1")
    run = subprocess.run(htr_batch(in_dir, out, "--scheduler", "local:2"), capture_output=True, text=True,
                         timeout=240, env=env)
    assert run.returncode == 3, run.stderr  # partial failure
    assert "11 done, 0 skipped, 1 failed" in run.stderr, run.stderr
    assert "MALLOC_TRIM_THRESHOLD_" not in run.stderr  # local:N workers start without it (docs/benchmarks.md: ~45% faster)
    assert failures(out) == [[f"{CRASHING}.jpg", "", "a worker died reading this page (2 tries)"]]
    check_outputs(out, [k for k in KEYS if k != CRASHING])


@contextmanager
def s3_store():
    """An S3 endpoint on 127.0.0.1 (moto's server) with one bucket, "archive": the environment that points
    s3fs (in `htr batch` and its Dask workers) at it."""
    pytest.importorskip("s3fs", reason="s3:// URLs need s3fs: pip install s3fs")
    server_module = pytest.importorskip("moto.server",
                                        reason="the test's S3 store is moto's server: pip install 'moto[server]'")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        env = {"FSSPEC_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
               "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
        import s3fs

        store = s3fs.S3FileSystem(endpoint_url=env["FSSPEC_S3_ENDPOINT_URL"], key="test", secret="test")
        store.mkdir("archive")
        yield store, env
    finally:
        server.stop()


@needs_weights
def test_pages_read_from_and_written_to_object_storage(in_dir, tmp_path):
    """s3:// in and out: the Dask workers read the pages from the bucket and write their outputs into it; a
    plain rerun reads the pages whose outputs were deleted, in this process, and nothing else."""
    with s3_store() as (store, s3_env):
        store.put(str(in_dir), "archive/scans", recursive=True)
        env = environment(**s3_env)
        command = [sys.executable, "-m", "htr.cli", "batch", "s3://archive/scans", "s3://archive/out",
                   "--formats", "page,text", "--quiet"]
        run = subprocess.run([*command, "--scheduler", "local:2"], capture_output=True, text=True, timeout=240,
                             env=env)
        assert run.returncode == 0, run.stderr
        assert "12 done, 0 skipped, 0 failed" in run.stderr, run.stderr
        out = tmp_path / "out"
        store.get("archive/out", str(out), recursive=True)
        check_outputs(out, KEYS)  # every page once, whole, nothing else (no temporary names) in the bucket
        assert failures(out) == []
        assert [r["input"] for r in manifest(out)] and all("s3" not in r["input"] for r in manifest(out))

        for key in ("p01", "sub/s04"):
            store.rm(f"archive/out/{key}.txt")
        again = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
        assert again.returncode == 0, again.stderr
        assert "12 pages found in 12 files; 10 already done, skipped; 2 to read" in again.stderr, again.stderr
        redone = tmp_path / "redone"
        store.get("archive/out", str(redone), recursive=True)
        records = manifest(redone)
        assert len(records) == 14 and records[:12] == manifest(out)  # the first run's lines kept
        assert sorted(r["input"] for r in records[12:]) == ["p01.png", "sub/s04.jpg"]
        for key in ("p01", "sub/s04"):
            assert (redone / f"{key}.txt").read_text() == (out / f"{key}.txt").read_text()
