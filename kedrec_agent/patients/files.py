"""A user's patient file: structured JSON, a FHIR R4 Bundle (JSON) or free text.

Example:
    >>> load_patient(Path("patient.json"))  # doctest: +SKIP
    PatientInput(text='', conditions=['type 2 diabetes'], ...)
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from kedrec_agent.errors import DataMissingError, InvalidInputError
from kedrec_agent.patients.common import build_patient
from kedrec_agent.patients.fhir import from_fhir
from kedrec_agent.patients.model import PatientInput, validation_message

MAX_FILE_BYTES = 10 * 1024 * 1024


def load_patient(path: Path | str) -> PatientInput:
    """Read a patient from a file.

    ``.json``: a FHIR Bundle (``"resourceType": "Bundle"``, see
    :func:`~kedrec_agent.patients.fhir.from_fhir`) or an object with the fields of
    :class:`PatientInput` (``text``, ``conditions``, ``medications``, ``allergies``,
    ``age``, ``sex``, ``source``; ``source`` defaults to ``"json"``). ``.txt``: the free-text
    description (``source="text"``). Error messages name fields and positions, never the
    file's values.

    Args:
        path: the file (at most 10 MB).

    Returns:
        The patient.

    Raises:
        DataMissingError: the file does not exist.
        InvalidInputError: unsupported extension, too large, not UTF-8, malformed JSON
            (line and column given) or not a valid patient record (fields given).
    """
    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"Patient file not found: {path}.")
    suffix = path.suffix.lower()
    if suffix not in (".json", ".txt"):
        raise InvalidInputError(
            f"Unsupported patient file type {suffix or '(none)'!r} for {path.name}: use .json "
            "(structured fields or a FHIR Bundle) or .txt (free text)."
        )
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InvalidInputError(
            f"Patient file {path.name} is too large ({size / 1e6:.1f} MB; at most 10 MB)."
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(f"Patient file {path.name} is not UTF-8 text.") from None

    if suffix == ".txt":
        if not text.strip():
            raise InvalidInputError(f"Patient file {path.name} is empty.")
        return build_patient(f"The patient description in {path.name}", text=text, source="text")

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"Patient file {path.name} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}."
        ) from None
    except RecursionError:  # json's decoder recurses once per nested array or object
        raise InvalidInputError(f"Patient file {path.name} is nested too deeply.") from None
    if not isinstance(data, dict):
        raise InvalidInputError(
            f"Patient file {path.name} must hold a JSON object (patient fields or a FHIR "
            f"Bundle), not a {type(data).__name__}."
        )
    if "resourceType" in data:
        return from_fhir(data)
    try:
        return PatientInput.model_validate({"source": "json", **data})
    except ValidationError as exc:
        raise InvalidInputError(
            validation_message(exc, f"The patient record in {path.name}")
        ) from None
