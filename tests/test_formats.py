"""Readers and writers of PAGE-XML, ALTO, hOCR, JSON and text: round trips, schema validity, real exports."""
import numpy as np
import pytest

from htr.errors import FormatError
from htr.formats import (format_for_path, parse_document, read_alto, read_document, read_hocr, read_page_xml,
                         sniff_format, write_alto, write_document, write_hocr, write_json, write_page_xml)
from tests.shared import validate


def line_texts(page):
    return [line.text for line in page.lines]


def assert_same_geometry(a, b, exact=True):
    assert len(a.blocks) == len(b.blocks)
    for la, lb in zip(a.lines, b.lines):
        expected = la.polygon if exact else np.clip(np.rint(la.polygon), 0, None)
        np.testing.assert_array_equal(lb.polygon, expected)


def test_page_xml_round_trip(page):
    text = write_page_xml(page)
    back = read_page_xml(text.encode())
    assert line_texts(back) == line_texts(page)
    assert_same_geometry(page, back, exact=False)
    assert [b.kind for b in back.blocks] == ["paragraph", "MarginTextZone"]
    assert [ln.kind for ln in back.lines] == ["DefaultLine", None, None, "HeadingLine"]
    assert back.lines[0].confidence == pytest.approx(0.71)
    assert [w.text for w in back.lines[0].words] == ["Dear", "Sir,"]
    np.testing.assert_array_equal(back.lines[1].baseline, page.lines[1].baseline)
    assert (back.width, back.height, back.source) == (1000, 1400, "letter 1.jpg")
    ids = [ln.id for ln in back.lines]
    assert ids[0] == "l1" and "9bad id" not in ids and len(set(ids)) == 4  # invalid XML IDs are replaced


def test_alto_round_trip(page):
    back = read_alto(write_alto(page).encode())
    assert line_texts(back) == line_texts(page)
    assert_same_geometry(page, back)  # ALTO keeps fractional coordinates
    assert [b.kind for b in back.blocks] == ["paragraph", "MarginTextZone"]
    assert [ln.kind for ln in back.lines] == ["DefaultLine", None, None, "HeadingLine"]
    assert [(w.text, w.confidence) for w in back.lines[0].words] == [("Dear", pytest.approx(0.93)),
                                                                      ("Sir,", pytest.approx(0.5))]
    np.testing.assert_array_equal(back.lines[1].baseline, page.lines[1].baseline)


def test_json_round_trip_is_lossless(page):
    back = parse_document(write_json(page))
    assert write_json(back) == write_json(page)
    for la, lb in zip(page.lines, back.lines):
        np.testing.assert_array_equal(la.polygon, lb.polygon)
        assert la.polygon.dtype == lb.polygon.dtype == np.float32
        assert (la.text, la.confidence, la.kind, la.id) == (lb.text, lb.confidence, lb.kind, lb.id)


def test_hocr_is_xhtml_with_geometry(page):
    etree = pytest.importorskip("lxml.etree")
    text = write_hocr(page)
    root = etree.fromstring(text.encode())  # well-formed XML
    assert root.tag == "{http://www.w3.org/1999/xhtml}html"
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    caps = root.find(".//h:meta[@name='ocr-capabilities']", ns).get("content").split()
    assert {"ocr_page", "ocr_carea", "ocr_par", "ocr_line", "ocrx_word"} <= set(caps)
    first_line = root.find(".//h:span[@class='ocr_line']", ns).get("title")
    assert first_line.startswith("bbox 104 95 305 145; baseline ")
    assert "poly 105 95 305 97 303 145 104 143" in first_line and first_line.endswith("x_wconf 71")
    words = root.findall(".//h:span[@class='ocrx_word']", ns)
    assert [w.text for w in words] == ["Dear", "Sir,"] and "x_wconf 93" in words[0].get("title")
    back = read_hocr(text)
    assert line_texts(back) == ["Dear Sir,", line_texts(page)[1], "", "Yours truly"]
    np.testing.assert_array_equal(back.lines[0].polygon, page.lines[0].polygon)
    assert back.width == 1000 and back.source == "letter 1.jpg"


def test_hocr_baseline_follows_the_spec(page):
    # hOCR's baseline is 'slope offset' relative to the bottom-left corner of the line's bbox.
    title = write_hocr(page).split('id="l2" title="')[1].split('"')[0]
    slope, offset = (float(v) for v in title.split("baseline ")[1].split(";")[0].split())
    fit = np.polyfit([0, 400, 780], [200 - 210, 204 - 210, 201 - 210], 1)
    assert slope == pytest.approx(fit[0], rel=1e-3)
    assert offset == pytest.approx(np.mean(np.array([-10, -6, -9]) - fit[0] * np.array([0, 400, 780])), abs=0.01)


@pytest.mark.shared
def test_written_xml_validates_against_official_schemas(page):
    validate(write_page_xml(page), "page2019")
    validate(write_alto(page), "alto4")


def test_element_ids_are_kept_by_every_format(page):
    def ids(p):
        return [(e.id, type(e).__name__) for e in p.elements()]

    assert write_page_xml(page)  # a writer fills in the ids a hand-built page lacks, in place ...
    expected = ids(page)
    assert "9bad id" not in {i for i, _ in expected} and len(set(expected)) == len(expected)
    for fmt in ("page", "alto", "hocr", "json"):  # ... and every format keeps them
        assert ids(parse_document(write_document(page, fmt))) == expected, fmt


def test_assign_ids_keeps_good_ids_and_renames_the_rest():
    from htr.document import Block, Line, Page, Word, assign_ids, box_polygon

    lines = [Line(box_polygon(0, 0, 9, 9), id="x"), Line(box_polygon(0, 9, 9, 19), id="x"),
             Line(box_polygon(0, 19, 9, 29), id="l1", words=[Word(box_polygon(0, 19, 5, 29))])]
    page = assign_ids(Page(100, 100, [Block(box_polygon(0, 0, 9, 29), lines, id="2nd")]))
    assert [e.id for e in page.elements()] == ["b1", "x", "l2", "l1", "w1"]


def test_text_output_is_reading_order(page):
    assert write_document(page, "text") == "Dear Sir,\n" + page.lines[1].text + "\n\nYours truly\n"


PAGE_2013 = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15">
  <Metadata><Creator>x</Creator><Created>2020</Created><LastChange>2020</LastChange></Metadata>
  <Page imageFilename="p.jpg" imageWidth="500" imageHeight="400">
    <ReadingOrder><OrderedGroup id="ro" caption="Regions reading order">
      <RegionRefIndexed index="1" regionRef="first_in_file"/>
      <RegionRefIndexed index="0" regionRef="second_in_file"/>
    </OrderedGroup></ReadingOrder>
    <Relations/>
    <TextRegion id="first_in_file" custom="readingOrder {index:1;} structure {type:marginalia;}">
      <Coords points="10,10 100,10 100,50 10,50"/>
      <TextLine id="a2" custom="readingOrder {index:1;}">
        <Coords points="10,30 100,30 100,50 10,50"/>
        <TextEquiv><Unicode>later line</Unicode></TextEquiv>
      </TextLine>
      <TextLine id="a1" custom="readingOrder {index:0;}">
        <Coords points="10,-3 100,10 100,28 10,28"/>
        <Baseline points="10,25 100,26"/>
        <Word id="w1"><Coords points="10,10 40,10 40,28 10,28"/><TextEquiv><Unicode>made</Unicode></TextEquiv></Word>
        <Word id="w2"><Coords points="50,10 90,10 90,28 50,28"/><TextEquiv><Unicode>of words</Unicode></TextEquiv></Word>
      </TextLine>
    </TextRegion>
    <TextRegion id="second_in_file">
      <Coords points="10,100 400,100 400,200 10,200"/>
      <TextLine id="b1"><Coords points="10,100 400,100 400,140 10,140"/>
        <TextEquiv index="1"><Unicode>alternative</Unicode></TextEquiv>
        <TextEquiv index="0" conf="0.8"><Unicode>first &amp; best</Unicode></TextEquiv>
      </TextLine>
    </TextRegion>
  </Page>
</PcGts>"""


@pytest.mark.shared
def test_page_reader_is_lenient_and_follows_reading_order():
    page = read_page_xml(PAGE_2013.encode())
    assert page.text == "first & best\n\nmade of words\nlater line"  # ReadingOrder, then custom line order
    assert page.blocks[1].kind == "marginalia"
    assert page.lines[0].confidence == pytest.approx(0.8)
    assert page.lines[1].polygon[:, 1].min() == 0  # points outside the image are clipped into it
    validate(write_page_xml(page), "page2019")


ALTO_V2 = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v2#">
  <Description><MeasurementUnit>pixel</MeasurementUnit>
    <sourceImageInformation><fileName>scan.tif</fileName></sourceImageInformation></Description>
  <Tags><OtherTag ID="T1" LABEL="MainZone"/></Tags>
  <Layout><Page ID="p1" WIDTH="800" HEIGHT="600" PHYSICAL_IMG_NR="1"><PrintSpace>
    <TextBlock ID="tb1" HPOS="10" VPOS="20" WIDTH="300" HEIGHT="100" TAGREFS="T1">
      <TextLine ID="tl1" HPOS="10" VPOS="20" WIDTH="300" HEIGHT="40" BASELINE="52">
        <String CONTENT="hyphen" HPOS="10" VPOS="20" WIDTH="100" HEIGHT="40" WC="0.9"/><SP/>
        <String CONTENT="ated" HPOS="120" VPOS="20" WIDTH="80" HEIGHT="40"/><HYP CONTENT="-"/>
      </TextLine>
      <TextLine ID="tl2"><Shape><Polygon POINTS="10,70 300,70 300,110 10,110"/></Shape>
        <String CONTENT="a whole line in one string"/>
      </TextLine>
    </TextBlock>
  </PrintSpace></Page></Layout>
</alto>"""


@pytest.mark.shared
def test_alto_reader_handles_old_versions():
    page = read_alto(ALTO_V2.encode())
    assert page.source == "scan.tif" and (page.width, page.height) == (800, 600)
    first, second = page.lines
    assert first.text == "hyphen ated-" and [w.text for w in first.words] == ["hyphen", "ated"]
    assert first.words[0].confidence == pytest.approx(0.9)
    np.testing.assert_array_equal(first.baseline, [[10, 52], [310, 52]])
    assert second.text == "a whole line in one string" and second.words == []
    np.testing.assert_array_equal(second.polygon, [[10, 70], [300, 70], [300, 110], [10, 110]])
    assert page.blocks[0].kind == "MainZone"
    validate(write_alto(page), "alto4")


def test_sniffing_and_output_names():
    assert sniff_format(PAGE_2013) == "page" and sniff_format(ALTO_V2) == "alto"
    assert sniff_format('{"width": 1}') == "json" and sniff_format("just words") == "text"
    assert sniff_format("<!DOCTYPE html><html></html>") == "hocr"
    assert [format_for_path(n) for n in ("a.page.xml", "a.ALTO.xml", "a.hocr", "a.txt", "a.json", "a.xml")] == [
        "page", "alto", "hocr", "text", "json", None]


@pytest.mark.parametrize("data, message", [
    ("<PcGts><Page>", "malformed XML"),
    ("<root/>", "neither PAGE"),
    ('{"width": "wide"}', "not an htr page JSON"),
])
def test_bad_documents_raise_one_line_errors(data, message):
    with pytest.raises(FormatError, match=message) as err:
        parse_document(data)
    assert "\n" not in str(err.value)


def test_reading_a_missing_or_binary_file_fails_clearly(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        read_document(tmp_path / "none.xml")
    binary = tmp_path / "scan.xml"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\xff")
    with pytest.raises(FormatError, match="not UTF-8"):
        read_document(binary)


# Real exports of ../shared round-trip through `htr convert` in tests/test_cli.py.


def test_the_registry_names_every_format_once_and_saves_whole_files(page, tmp_path):
    from htr.files import atomic_path
    from htr.formats import READABLE, REGISTRY, document_files, document_key, save_document

    suffixes = [s for f in REGISTRY.values() for s in (f.suffix, *f.also)]
    assert len(suffixes) == len(set(suffixes))
    assert set(REGISTRY) - set(READABLE) == {"pdf"}  # written only (tests/test_pdf.py), with the page image
    for name in READABLE:
        record = REGISTRY[name]
        assert format_for_path("KEY" + record.suffix) == name and not record.binary and not record.needs_image
        save_document(page, tmp_path / "docs" / ("KEY" + record.suffix), name)
        assert read_document(tmp_path / "docs" / ("KEY" + record.suffix)).text.split() == page.text.split()
    assert set(document_files(tmp_path / "docs")) == {"KEY"}
    assert document_key(tmp_path / "a.b.page.xml") == "a.b" and document_key(tmp_path / "a.xml") == "a"
    with pytest.raises(FormatError, match="unknown format"):
        save_document(page, tmp_path / "x.djvu", "djvu")
    target = tmp_path / "kept.txt"
    target.write_text("before")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_path(target) as tmp:
            tmp.write_text("half of it")
            raise RuntimeError("killed while writing")
    assert target.read_text() == "before" and sorted(p.name for p in tmp_path.iterdir()) == ["docs", "kept.txt"]


# ------------------------------------------------------------------------------------------------ rectangles

def _elements_by_id(page):
    from htr.document import assign_ids

    return {e.id: e for e in assign_ids(page).elements()}


def _bbox(points):
    points = np.asarray(points, np.float64).reshape(-1, 2)
    return (*points.min(0), *points.max(0))


def alto_rectangles(text: str) -> dict[str, tuple[tuple, tuple | None]]:
    """Each ALTO element's (HPOS, VPOS, HPOS + WIDTH, VPOS + HEIGHT) and its Shape's bbox (None without one)."""
    import xml.etree.ElementTree as ET

    found = {}
    for elem in ET.fromstring(text.encode()).iter():
        name = elem.tag.rsplit("}", 1)[-1]
        if name in ("TextBlock", "TextLine", "String") and elem.get("HPOS") is not None:
            x, y, w, h = (float(elem.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
            own = elem.find("{*}Shape/{*}Polygon")
            points = [float(v) for v in own.get("POINTS").split()] if own is not None else None
            found[elem.get("ID")] = ((x, y, x + w, y + h), _bbox(points) if points else None)
    return found


def hocr_rectangles(text: str) -> dict[str, tuple[tuple, tuple | None]]:
    """Each hOCR element's bbox and its poly's bbox (None without one)."""
    import re

    found = {}
    for elem_id, title in re.findall(r'id="([^"]+)" title="([^"]*)"', text):
        props = dict(p.strip().split(" ", 1) for p in title.split(";") if " " in p.strip())
        if "bbox" in props:
            box = tuple(float(v) for v in props["bbox"].split())
            poly = [float(v) for v in props["poly"].split()] if "poly" in props else None
            found[elem_id] = (box, _bbox(poly) if poly else None)
    return found


def page_rectangles(text: str) -> dict[str, tuple]:
    """Each PAGE element's Coords bbox."""
    import xml.etree.ElementTree as ET

    found = {}
    for elem in ET.fromstring(text.encode()).iter():
        coords = elem.find("{*}Coords")
        if elem.get("id") and coords is not None:
            found[elem.get("id")] = _bbox([float(v) for v in coords.get("points").replace(",", " ").split()])
    return found


def check_rectangles(page, alto: str, hocr: str, page_xml: str) -> int:
    """Every rectangle a format writes is the bounding box of the element's polygon (ALTO to 0.01 px, hOCR's
    whole pixels around it, PAGE's points rounded): the number of rectangles checked."""
    elements = _elements_by_id(page)
    checked = 0
    for elem_id, (box, shape) in alto_rectangles(alto).items():
        owner = elements.get(elem_id) or elements[elem_id.rsplit("_s", 1)[0]]  # a line-level String: its line's
        np.testing.assert_allclose(box, owner.bbox, atol=0.011, err_msg=f"ALTO {elem_id}")
        if shape is not None:
            np.testing.assert_allclose(shape, owner.bbox, atol=0.006, err_msg=f"ALTO {elem_id} Shape")
        checked += 1
    for elem_id, (box, poly) in hocr_rectangles(hocr).items():
        if elem_id not in elements:  # the page and each block's paragraph
            continue
        x0, y0, x1, y1 = elements[elem_id].bbox
        assert box == (np.floor(x0), np.floor(y0), np.ceil(x1), np.ceil(y1)), f"hOCR {elem_id}"
        if poly is not None:
            np.testing.assert_allclose(poly, elements[elem_id].bbox, atol=0.5, err_msg=f"hOCR {elem_id} poly")
        checked += 1
    for elem_id, box in page_rectangles(page_xml).items():
        np.testing.assert_allclose(box, np.clip(elements[elem_id].bbox, 0, None), atol=0.5, err_msg=f"PAGE {elem_id}")
        checked += 1
    return checked


def test_every_written_rectangle_is_the_box_of_the_elements_polygon(page):
    """ALTO's HPOS/VPOS/WIDTH/HEIGHT, hOCR's bbox and PAGE's Coords: many consumers read only these."""
    n = len(page.elements())
    assert check_rectangles(page, write_alto(page), write_hocr(page), write_page_xml(page)) >= 3 * n - 1


def test_the_example_outputs_rectangles_are_their_polygons_boxes():
    from pathlib import Path

    examples = Path(__file__).parent.parent / "examples"
    for name in ("letter", "form", "notes"):
        page = read_document(examples / f"{name}.json")  # the lossless form: every polygon as read
        texts = [(examples / f"{name}{suffix}").read_text(encoding="utf-8")
                 for suffix in (".alto.xml", ".hocr", ".page.xml")]
        assert check_rectangles(page, *texts) > 3 * len(page.lines), name


def test_a_shifted_alto_rectangle_is_caught(page):
    import re

    shifted = re.sub(r'HPOS="([\d.]+)"', lambda m: f'HPOS="{float(m.group(1)) + 25:g}"', write_alto(page))
    with pytest.raises(AssertionError, match="ALTO"):
        check_rectangles(page, shifted, write_hocr(page), write_page_xml(page))
