"""XSD validation for tests (see tests/shared.py)."""
from tests.shared import validate  # noqa: F401
