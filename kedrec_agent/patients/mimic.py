"""MIMIC-III admissions as patients: ICD-9 diagnoses, age at admission and sex.

Reads ``ADMISSIONS``, ``PATIENTS`` and ``DIAGNOSES_ICD`` (``.csv`` or ``.csv.gz``, upper- or
lower-case column names) by streaming them with the csv module, so that the full MIMIC-III
v1.4 works as well as the bundled demo. ``PRESCRIPTIONS`` is never read.

Example:
    >>> patient = from_mimic(142345)  # doctest: +SKIP
    >>> patient.conditions[:2], patient.source  # doctest: +SKIP
    (['ICD9:99591', 'ICD9:99662'], 'mimic:142345')
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import NamedTuple

from kedrec_agent.config import Settings
from kedrec_agent.data.bundle import MIMIC_DEMO_DIR
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.patients.common import build_patient, find_table, read_table, unique
from kedrec_agent.patients.model import PatientInput

log = logging.getLogger(__name__)

WHAT = "MIMIC-III"
MAX_AGE = 90  # MIMIC-III shifts the birth date of patients over 89 to make them ~300 years old
# Dates are ISO (``2164-10-23 21:09:00``) in MIMIC-III; a spreadsheet-saved copy (such as the
# bundled demo) has ``10/23/64 21:09``, with two-digit years.
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\b")
_SEX = {"F": "female", "M": "male"}


class _Day(NamedTuple):
    year: int
    month: int
    day: int
    full_year: bool  # False for a two-digit year (century unknown)


def default_mimic_dir() -> Path:
    """The bundled MIMIC-III demo: ``<KEDREC_DATA_DIR>/patients/mimic3_demo``."""
    return Settings.from_env().data_dir / MIMIC_DEMO_DIR


def mimic_admissions(mimic_dir: Path | None = None) -> list[int]:
    """The HADM_IDs of the admissions in ``ADMISSIONS``, in file order.

    Args:
        mimic_dir: folder of the MIMIC-III tables (default: the bundled demo).

    Raises:
        DataMissingError: the folder or ``ADMISSIONS.csv(.gz)`` is missing.
        InvalidInputError: the table lacks a HADM_ID column or holds a non-integer id.
    """
    path = find_table(mimic_dir or default_mimic_dir(), "ADMISSIONS", WHAT)
    try:
        return [int(hadm) for (hadm,) in read_table(path, ("HADM_ID",)) if hadm]
    except ValueError as exc:
        raise InvalidInputError(f"{path} holds a HADM_ID that is not an integer.") from exc


def from_mimic(hadm_id: int, mimic_dir: Path | None = None) -> PatientInput:
    """The patient of one MIMIC-III hospital admission.

    Conditions are the admission's ICD-9 diagnosis codes in ``SEQ_NUM`` order, as
    ``ICD9:<code>`` with MIMIC's undotted codes kept (``ICD9:25000``; the linker reads
    them). Age is taken at admission (``ADMITTIME`` - ``DOB``) and capped at 90, since
    MIMIC-III shifts the ages of patients over 89 to about 300. Medications are left
    empty on purpose: the admission's ``PRESCRIPTIONS`` are the ground truth that an
    evaluation compares recommendations with, so they must not be given to the agent.
    The free text is empty too.

    Args:
        hadm_id: the admission (``HADM_ID``).
        mimic_dir: folder of the MIMIC-III tables (default: the bundled demo,
            ``<KEDREC_DATA_DIR>/patients/mimic3_demo``).

    Returns:
        The patient, with ``source="mimic:<hadm_id>"``.

    Raises:
        DataMissingError: the folder or one of the three tables is missing.
        InvalidInputError: no such admission, or it has no diagnosis code.
    """
    folder = mimic_dir or default_mimic_dir()
    admissions = find_table(folder, "ADMISSIONS", WHAT)
    patients = find_table(folder, "PATIENTS", WHAT)
    diagnoses = find_table(folder, "DIAGNOSES_ICD", WHAT)
    wanted = str(hadm_id)

    columns = ("HADM_ID", "SUBJECT_ID", "ADMITTIME")
    admission = next((row for row in read_table(admissions, columns) if row[0] == wanted), None)
    if admission is None:
        raise InvalidInputError(f"No MIMIC-III admission {hadm_id} in {folder}.")
    subject, admit_time = admission[1], admission[2]

    person = next(
        (row for row in read_table(patients, ("SUBJECT_ID", "GENDER", "DOB")) if row[0] == subject),
        None,
    )
    if person is None:
        raise InvalidInputError(
            f"MIMIC-III admission {hadm_id}: its SUBJECT_ID is missing from {patients.name}."
        )

    coded = [
        (_seq(seq), code)
        for hadm, seq, code in read_table(diagnoses, ("HADM_ID", "SEQ_NUM", "ICD9_CODE"))
        if hadm == wanted and code
    ]
    conditions = unique(f"ICD9:{code}" for _, code in sorted(coded, key=lambda item: item[0]))
    if not conditions:
        raise InvalidInputError(f"MIMIC-III admission {hadm_id} has no ICD-9 diagnosis code.")

    age = _age(_parse_day(person[2]), _parse_day(admit_time))
    log.info("MIMIC-III admission read: %d diagnosis code(s)", len(conditions))
    return build_patient(
        f"MIMIC-III admission {hadm_id}",
        conditions=conditions,
        age=age,
        sex=_SEX.get(person[1].upper()),
        source=f"mimic:{hadm_id}",
    )


def _seq(value: str) -> int:
    """SEQ_NUM as an int; a missing one sorts last."""
    try:
        return int(float(value))
    except ValueError:
        return 1_000_000


def _parse_day(value: str) -> _Day | None:
    """The date of a MIMIC timestamp, ISO or ``M/D/YY[YY] H:MM``; ``None`` if unreadable."""
    if match := _ISO.match(value):
        year, month, day = (int(group) for group in match.groups())
        return _Day(year, month, day, True)
    if match := _US.match(value):
        month, day = int(match.group(1)), int(match.group(2))
        return _Day(int(match.group(3)), month, day, len(match.group(3)) == 4)
    return None


def _age(born: _Day | None, admitted: _Day | None) -> int | None:
    """Age in whole years at admission, capped at :data:`MAX_AGE`.

    With two-digit years the century is unknown. A two-digit birth year is read as the
    latest one before the admission (true ages under 90 come out right; MIMIC-III's
    over-89 patients keep their full, pre-1900, birth year in spreadsheet-saved files).
    A two-digit admission year next to a full birth year is read as 21YY, the range of
    MIMIC-III's shifted dates.
    """
    if born is None or admitted is None:
        return None
    earlier = (admitted.month, admitted.day) < (born.month, born.day)
    if not born.full_year:
        age = (admitted.year % 100 - born.year % 100 - earlier) % 100
    else:
        year = admitted.year if admitted.full_year else 2100 + admitted.year % 100
        age = year - born.year - earlier
    return min(age, MAX_AGE) if age >= 0 else None
