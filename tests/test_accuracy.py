"""The shipped weights read real dev pages as well as recorded (tests/accuracy.py; the model card quotes it)."""
import json

import pytest

from tests import accuracy


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads(accuracy.RECORD.read_text())


@pytest.mark.shared
def test_the_record_is_of_the_shipped_weights(record):
    assert record["weights"] == accuracy.weights_digest(), (
        "htr/weights changed since tests/accuracy_figures.json was measured: run `python -m tests.accuracy "
        "--write` with the new weights and quote its figures in the model card")


@pytest.mark.shared
def test_shipped_weights_read_dev_documents_as_well_as_recorded(record):
    measured = accuracy.measure()
    assert set(measured) == set(record["figures"]) and all(measured[k].keys() == record["figures"][k].keys()
                                                           for k in measured)
    assert accuracy.worse(measured, record["figures"]) == []


def test_a_worse_measurement_is_reported():
    recorded = {"line_cer": {"a": 0.10}, "line_f1": {"a": 0.90}, "page_cer": {"a": 0.20}}
    same = {"line_cer": {"a": 0.105}, "line_f1": {"a": 0.89}, "page_cer": {"a": 0.21}}
    assert accuracy.worse(same, recorded) == []
    bad = {"line_cer": {"a": 0.12}, "line_f1": {"a": 0.85}, "page_cer": {"a": 0.25}}
    assert len(accuracy.worse(bad, recorded)) == 3
