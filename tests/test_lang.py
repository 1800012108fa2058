"""--lang auto: each page read with the word list of its own language (``htr.recognition.lm.choose_language``),
recorded in the page and its formats."""
import pytest

from htr.formats import parse_document, write_document
from htr.recognition.lm import choose_language, word_ranks
from tests.shared import validate

RANKS = word_ranks({  # most frequent first, as the shipped word lists
    "en": "the of and to in is was he for it with as his on at by had this".split(),
    "fr": "de la le et les des en un du une que est pour qui dans il au sur par pas the of and".split()})
ENGLISH = ["The letter of the day is in the box, 12 Kew", "and he was at the door with his hat on"]
FRENCH = ["Le chat de la maison est sur le toit", "et les enfants sont dans la rue pour le jeu"]


def test_the_language_under_which_the_words_are_likeliest_is_chosen():
    assert choose_language(ENGLISH, RANKS) == "en"
    assert choose_language(FRENCH, RANKS) == "fr"


def test_a_word_counts_by_its_rank_in_each_list_not_only_by_being_there():
    both = ["the of and " * 6]  # in both lists: near the top of the English one, at the end of the French one
    assert choose_language(both, RANKS) == "en"
    assert choose_language(both, {"en": RANKS["fr"], "fr": RANKS["en"]}) == "fr"


def test_too_few_words_or_no_clear_winner_choose_none():
    assert choose_language(ENGLISH[:1], RANKS) is None  # 9 words: under MIN_WORDS
    assert choose_language(ENGLISH[:1], RANKS, min_words=5) == "en"
    assert choose_language(["xq zzv wrrt " * 6], RANKS) is None  # words of neither list: a tie
    assert choose_language(ENGLISH, RANKS, min_margin=100.0) is None
    assert choose_language(ENGLISH, {}) is None


@pytest.mark.parametrize("fmt", ["json", "page", "alto", "hocr"])
def test_the_language_is_written_and_read_back(page, fmt):
    page.language = "fr"
    text = write_document(page, fmt)
    assert parse_document(text, fmt).language == "fr"
    page.language = None
    assert parse_document(write_document(page, fmt), fmt).language is None
    if fmt in ("page", "alto"):
        assert ('primaryLanguage="French"' if fmt == "page" else 'LANG="fr"') in text
        validate(text, {"page": "page2019", "alto": "alto4"}[fmt])  # skips where the schemas are absent


@pytest.fixture(scope="module")
def reader():
    from htr.pipeline import Reader

    return Reader(threads=1)


def first_dev_page(source: str):
    from tests.shared import shared_path

    xml = sorted(shared_path("data", source, "dev").glob("*.xml"))[0]
    return xml.with_suffix(".jpg"), xml


@pytest.mark.shared
@pytest.mark.parametrize("source, language", [("hooker", "en"), ("testaments", "fr")])
def test_a_dev_page_is_read_in_its_own_language(reader, source, language):
    image, xml = first_dev_page(source)
    assert reader.options.lang is None  # the default: auto
    assert reader.read(image, lines=xml).language == language


@pytest.mark.shared
def test_an_explicit_lang_wins(capsys):
    from htr.cli import main

    image, xml = first_dev_page("hooker")
    assert main(["page", str(image), "--lines", str(xml), "--lang", "fr", "--out", "page", "--threads", "1"]) == 0
    assert 'primaryLanguage="French"' in capsys.readouterr().out
    assert main(["page", str(image), "--lines", str(xml), "--lang", "en,fr", "--out", "json", "--threads", "1"]) == 0
    assert parse_document(capsys.readouterr().out, "json").language is None  # several word lists: no one language
