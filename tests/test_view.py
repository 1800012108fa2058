"""`htr view`: the pages found in folders, the JSON API's answers to bad requests, the export for training, and the
web app driven in a real headless Chromium (Debian's `chromium`, through Playwright): open a page, see its lines,
edit one, save; the PAGE-XML on disk holds the edit, marks the line checked, validates, keeps the previous version
and converts with `htr convert`; a reload shows the edit. The browser tests skip where Playwright or Chromium is
not installed (.ci/run installs Debian's chromium where apt-get is there)."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from htr.cli import main
from htr.formats import read_document
from htr.view.pages import Pages, checked_lines, find_pages
from htr.view.server import make_view_server
from tests.conftest import make_page
from tests.shared import validate

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CHROMIUM = os.environ.get("HTR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
EDIT = "Corrected by a person: façade & <ampersands>"


def line_count(xml: Path) -> int:
    return xml.read_text(encoding="utf-8").count("<TextLine")


@pytest.fixture
def folder(tmp_path) -> Path:
    """Two pages read by htr: examples/letter and examples/notes, scan and PAGE-XML."""
    pages = tmp_path / "pages"
    pages.mkdir()
    for name in ("letter.jpg", "letter.page.xml", "notes.jpg", "notes.page.xml"):
        shutil.copy(EXAMPLES / name, pages / name)
    return pages


@contextmanager
def serving(paths, export_to: Path, make_reader=None, out=None):
    """The app on a free port of 127.0.0.1, in a thread: its address."""
    pages = Pages(find_pages(paths, skip=[export_to]), make_reader, out)
    server = make_view_server(pages, "127.0.0.1", 0, export_to)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        pages.close()
        thread.join(10)


@pytest.fixture
def url(folder, tmp_path):
    with serving([folder], tmp_path / "export") as address:
        yield address


def request(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """(status, parsed JSON or raw bytes) of one request, its path sent as it is (no ../ folding)."""
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    try:
        connection.putrequest(method, path, skip_host="Host" in (headers or {}))
        for name, value in {"Content-Length": str(len(body or b"")), **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read()
        kind = response.getheader("Content-Type", "")
        return response.status, json.loads(data) if kind.startswith("application/json") else data
    finally:
        connection.close()


def post(url: str, path: str, data, **headers):
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return request(url, "POST", path, body, {"Content-Type": "application/json", **headers})


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set HTR_CHROMIUM to a Chromium binary)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture
def tab(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    page = context.new_page()
    page.set_default_timeout(20000)
    page.on("dialog", lambda dialog: dialog.accept())  # "leave with unsaved edits?": yes (they are in localStorage)
    yield page
    context.close()


# ------------------------------------------------------------------------------------------------ pages, API

def test_pages_pair_scans_with_results_in_other_folders(tmp_path, folder):
    assert [(p.id, p.image.name, p.result.name) for p in find_pages([folder])] == [
        ("letter", "letter.jpg", "letter.page.xml"), ("notes", "notes.jpg", "notes.page.xml")]
    scans, out = tmp_path / "scans" / "box1", tmp_path / "out" / "box1"  # htr batch scans out: out mirrors scans
    scans.mkdir(parents=True)
    out.mkdir(parents=True)
    shutil.copy(EXAMPLES / "letter.jpg", scans / "letter.jpg")
    shutil.copy(EXAMPLES / "letter.json", out / "letter.json")
    shutil.copy(EXAMPLES / "form.jpg", scans / "form.jpg")
    pages = find_pages([tmp_path / "out", tmp_path / "scans"])
    assert [(p.id, p.image, p.result) for p in pages] == [
        ("box1/form", scans / "form.jpg", None), ("box1/letter", scans / "letter.jpg", out / "letter.json")]
    assert pages[0].target == scans / "form.page.xml" and pages[1].target == out / "letter.page.xml"
    assert [p.id for p in find_pages([folder / "notes.jpg"])] == ["notes"]  # a file: with its result beside it


class FakeReader:
    """Reads every page as tests/conftest.py's page, at once."""

    def read(self, image, source=None):
        page = make_page()
        page.width, page.height, page.source = image.shape[1], image.shape[0], source
        return page


def wait_read(url: str, page_id: str) -> dict:
    for _ in range(200):
        status, answer = request(url, "GET", f"/api/page/{page_id}")
        if status != 202:
            assert status == 200, answer
            return answer
        time.sleep(0.05)
    raise AssertionError(f"{page_id} not read")


@pytest.mark.parametrize("out", [None, "saved"])
def test_viewing_writes_nothing_beside_the_scans_until_saved(tmp_path, monkeypatch, out):
    scans = tmp_path / "scans"
    scans.mkdir()
    shutil.copy(EXAMPLES / "letter.jpg", scans / "letter.jpg")
    monkeypatch.setenv("HTR_CACHE", str(tmp_path / "cache"))
    out = out and tmp_path / out
    with serving([scans], tmp_path / "export", make_reader=FakeReader, out=out) as url:
        page = wait_read(url, "letter")
        assert [line["text"] for line in page["lines"]] == [ln.text for ln in make_page().lines]
        assert sorted(p.name for p in scans.iterdir()) == ["letter.jpg"]  # read, shown, not saved: nothing here
        assert request(url, "GET", "/api/pages")[1]["pages"][0]["unsaved"] is True
        status, saved = post(url, "/api/page/letter", {"version": page["version"], "lines": [{"id": "l1", "text": EDIT}]})
        assert status == 200, saved
    target = (out or scans) / "letter.page.xml"
    assert saved["saved"] == str(target) and checked_lines(target) == {"l1"}
    assert {ln.id: ln.text for ln in read_document(target).lines}["l1"] == EDIT
    assert sorted(p.name for p in scans.iterdir()) == (["letter.jpg"] if out else ["letter.jpg", "letter.page.xml"])
    validate(target.read_bytes(), "page2019")


def test_the_pdfs_htr_writes_are_not_pages(tmp_path):
    """`htr view OUT SCANS` after `htr batch --formats page,pdf`: one entry per page, not the PDFs again."""
    import subprocess
    import sys

    from PIL import Image

    scans, out = tmp_path / "scans", tmp_path / "out"
    scans.mkdir()
    shutil.copy(EXAMPLES / "form.jpg", scans / "form.jpg")
    blank = Image.new("RGB", (300, 200), "white")
    blank.save(scans / "two.pdf", save_all=True, append_images=[blank.copy()])
    result = subprocess.run([sys.executable, "-m", "htr.cli", "batch", str(scans), str(out), "--formats", "page,pdf"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert {"form.pdf", "two.pdf", "two_p0001.pdf"} <= {p.name for p in out.iterdir()}
    expected = [("form", scans / "form.jpg", None, out / "form.page.xml"),
                ("two_p0001", scans / "two.pdf", 1, out / "two_p0001.page.xml"),
                ("two_p0002", scans / "two.pdf", 2, out / "two_p0002.page.xml")]
    for paths in ([out, scans], [scans, out]):
        assert [(p.id, p.image, p.number, p.result) for p in find_pages(paths)] == expected
    assert main(["page", str(scans / "form.jpg"), "--out", "pdf", "-o", str(scans / "form_read.pdf")]) == 0
    assert [p.id for p in find_pages([scans])] == ["form", "two_p0001", "two_p0002"]  # htr page's PDF: not a scan


def test_page_list_and_page(url, folder):
    status, listing = request(url, "GET", "/api/pages")
    assert status == 200 and [(p["id"], p["lines"], p["checked"]) for p in listing["pages"]] == [
        ("letter", line_count(folder / "letter.page.xml"), 0), ("notes", line_count(folder / "notes.page.xml"), 0)]
    status, page = request(url, "GET", "/api/page/letter")
    assert status == 200 and (page["width"], page["height"]) == (694, 954)
    assert [line["text"] for line in page["lines"]] == [ln.text for ln in read_document(folder / "letter.page.xml").lines]
    status, jpeg = request(url, "GET", "/api/image/letter")
    assert status == 200 and jpeg[:3] == b"\xff\xd8\xff"


def test_bad_requests_get_4xx_and_change_nothing(url, folder, tmp_path):
    (tmp_path / "secret.txt").write_text("not for the browser")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for path in ("/api/page/../secret.txt", "/api/page/../../etc/passwd", "/api/image/../secret.txt",
                 "/api/image/..%2Fsecret.txt", "/static/../secret.txt", "/static/../../pages/letter.page.xml",
                 "/static/%2e%2e/server.py", "/static/../server.py", "/api/page/nope", "/api/image/letter.jpg", "/api/page/letter.page.xml"):
        status, answer = request(url, "GET", path)
        assert status in (403, 404), (path, status)
        assert b"not for the browser" not in (answer if isinstance(answer, bytes) else json.dumps(answer).encode())
    good = {"lines": [{"id": "l1", "text": "changed"}]}
    assert post(url, "/api/page/../secret.txt", good)[0] == 404
    assert post(url, "/api/page/nope", good)[0] == 404
    for body in (b"{not json", b"[1, 2]", {"lines": "l1"}, {"lines": [{"id": "l999", "text": "x"}]},
                 {"lines": [{"id": "l1", "text": 3}]}, {"lines": [{"id": "l1", "text": "a\nb"}]},
                 {"lines": [{"id": "l1", "checked": "yes"}]}, {"lines": [{"text": "no id"}]},
                 {"lines": [{"id": "l1", "text": "changed"}, {"id": "l999"}]}):  # nothing applied when one is bad
        status, answer = post(url, "/api/page/letter", body)
        assert status == 400 and answer["error"], body
    assert request(url, "POST", "/api/page/letter", json.dumps(good).encode(), {"Content-Type": "text/plain"})[0] == 400
    assert post(url, "/api/page/letter", {**good, "version": "stale"})[0] == 409
    assert post(url, "/api/page/letter", good, Origin="http://evil.example")[0] == 403
    assert request(url, "GET", "/api/pages", headers={"Host": "evil.example"})[0] == 403  # DNS rebinding
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_save_marks_the_line_keeps_the_previous_version_and_exports(url, folder, tmp_path):
    original = (folder / "letter.page.xml").read_bytes()
    version = request(url, "GET", "/api/page/letter")[1]["version"]
    status, saved = post(url, "/api/page/letter", {"version": version, "lines": [
        {"id": "l3", "text": f"  {EDIT} "}, {"id": "l5", "checked": True}]})
    assert status == 200 and (saved["changed"], saved["checked"]) == (1, 2)
    xml = folder / "letter.page.xml"
    assert (folder / "letter.page.xml.bak").read_bytes() == original
    assert checked_lines(xml) == {"l3", "l5"} and "htr {checked:true;}" in xml.read_text(encoding="utf-8")
    assert {ln.id: ln.text for ln in read_document(xml).lines}["l3"] == EDIT
    assert request(url, "GET", "/api/pages")[1]["pages"][0]["checked"] == 2

    status, exported = post(url, "/api/export", {})
    export = tmp_path / "export"
    assert status == 200 and (exported["pages"], exported["lines"]) == (1, 2)
    assert sorted(p.name for p in export.iterdir()) == ["letter.jpg", "letter.page.xml"]  # notes: nothing checked
    page = read_document(export / "letter.page.xml")
    assert {ln.id for ln in page.lines if ln.text} == {"l3", "l5"} and len(page.lines) == line_count(xml)
    assert main(["data", "compile", str(export), "-o", str(tmp_path / "corpus"), "--quiet"]) == 0
    again = tmp_path / "again"
    assert main(["view", str(folder), "--export", str(again), "--export-only"]) == 0  # the same, as a command
    assert sorted(p.name for p in again.iterdir()) == ["letter.jpg", "letter.page.xml"]
    assert [ln.text for ln in read_document(again / "letter.page.xml").lines] == [ln.text for ln in page.lines]
    validate((export / "letter.page.xml").read_bytes(), "page2019")
    validate(xml.read_bytes(), "page2019")


def test_command_reports_nothing_to_view_or_export(tmp_path, folder, capsys):
    assert main(["view", str(tmp_path / "missing")]) == 1
    assert main(["view", str(folder), "--export", str(tmp_path / "e"), "--export-only"]) == 1
    assert "nothing exported" in capsys.readouterr().err and not (tmp_path / "e").exists()


# ------------------------------------------------------------------------------------------------ the browser

def test_edit_a_line_in_the_browser_and_save(tab, url, folder, tmp_path):
    xml = folder / "letter.page.xml"
    original = xml.read_bytes()
    tab.goto(url + "/#letter")
    rows = tab.locator("#line-list li.line")
    rows.first.wait_for()
    assert rows.count() == line_count(xml) == tab.locator("#overlay g.line").count()
    assert tab.locator("#overlay image").count() == 1 and tab.locator("#overlay .word.low").count() > 0

    tab.locator('#overlay g.line[data-id="l5"] polygon.outline').click()  # the scan selects the text ...
    assert "selected" in tab.locator('#line-list li[data-id="l5"]').get_attribute("class")
    tab.keyboard.press("ArrowUp")  # ... the keys move through the lines ...
    assert "selected" in tab.locator('#overlay g.line[data-id="l4"]').get_attribute("class")
    row = tab.locator('#line-list li[data-id="l3"]')
    row.click()  # ... and the text the scan
    assert "selected" in tab.locator('#overlay g.line[data-id="l3"]').get_attribute("class")
    row.locator("input").fill(EDIT)
    tab.keyboard.press("Control+s")
    tab.locator("#status.saved").wait_for()

    assert {ln.id: ln.text for ln in read_document(xml).lines}["l3"] == EDIT
    assert checked_lines(xml) == {"l3"}
    assert (folder / "letter.page.xml.bak").read_bytes() == original
    assert main(["convert", str(xml), str(tmp_path / "letter.txt")]) == 0
    assert EDIT in (tmp_path / "letter.txt").read_text(encoding="utf-8")

    tab.reload()
    tab.locator('#line-list li[data-id="l3"]').wait_for()
    assert tab.locator('#line-list li[data-id="l3"] .shown').inner_text() == EDIT
    assert "checked" in tab.locator('#line-list li[data-id="l3"]').get_attribute("class")

    row = tab.locator('#line-list li[data-id="l4"]')  # an edit not saved survives closing the tab
    row.click()
    row.locator("input").fill("not saved yet")
    tab.reload()
    tab.locator("#status.unsaved").wait_for()
    assert tab.locator('#line-list li[data-id="l4"] .shown').inner_text() == "not saved yet"
    tab.keyboard.press("PageDown")  # the next page: the edit is saved on the way
    tab.wait_for_function("document.querySelector('#pages').value === 'notes' && "
                          "document.querySelectorAll('#line-list li.line').length === %d" % line_count(folder / "notes.page.xml"))
    assert {ln.id: ln.text for ln in read_document(xml).lines}["l4"] == "not saved yet"
    validate(xml.read_bytes(), "page2019")


def test_a_page_not_read_yet_is_read_on_first_view(tab, tmp_path, monkeypatch):
    from htr.pipeline import Reader

    scans = tmp_path / "scans"
    scans.mkdir()
    shutil.copy(EXAMPLES / "letter.jpg", scans / "letter.jpg")
    reader = Reader()
    monkeypatch.setenv("HTR_CACHE", str(tmp_path / "cache"))  # the reading waits there, not beside the scan
    with serving([scans], tmp_path / "export", make_reader=lambda: reader) as address:
        tab.goto(address)
        tab.locator("#progress").wait_for(state="visible")
        tab.locator("#line-list li.line").first.wait_for(timeout=120000)
        assert tab.locator("#progress").is_hidden()
        cached = next((tmp_path / "cache" / "view").glob("*.page.xml"))
        assert tab.locator("#line-list li.line").count() == line_count(cached) > 5
        assert sorted(p.name for p in scans.iterdir()) == ["letter.jpg"]  # looking wrote nothing there
