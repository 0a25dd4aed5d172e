"""Synthea CSV output as patients: active disorders, medications and drug allergies.

Reads ``patients``, ``conditions``, ``medications`` and ``allergies`` (``.csv`` or
``.csv.gz``) of a Synthea export by streaming them with the csv module.

Example:
    >>> patient = from_synthea(synthea_patients()[0])  # doctest: +SKIP
    >>> patient.source.startswith("synthea:")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from kedrec_agent.config import Settings
from kedrec_agent.data.bundle import SYNTHEA_DIR
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.patients.common import (
    age_between,
    build_patient,
    find_table,
    read_table,
    split_semantic_tag,
    unique,
)
from kedrec_agent.patients.model import PatientInput

log = logging.getLogger(__name__)

WHAT = "Synthea"
DRUG_ALLERGY_CATEGORIES = frozenset({"medication"})
_SEX = {"F": "female", "M": "male"}
_TABLES = ("patients", "conditions", "medications", "allergies")


def default_synthea_dir() -> Path:
    """The bundled Synthea sample: ``<KEDREC_DATA_DIR>/patients/synthea_us_111``."""
    return Settings.from_env().data_dir / SYNTHEA_DIR


def synthea_patients(synthea_dir: Path | None = None) -> list[str]:
    """The patient ids (``Id`` column of ``patients.csv``), in file order.

    Args:
        synthea_dir: folder of the Synthea CSV files (default: the bundled sample).

    Raises:
        DataMissingError: the folder or ``patients.csv`` is missing.
    """
    path = find_table(synthea_dir or default_synthea_dir(), "patients", WHAT)
    return [patient for (patient,) in read_table(path, ("ID",)) if patient]


def from_synthea(
    patient_id: str, synthea_dir: Path | None = None, today: date | None = None
) -> PatientInput:
    """One Synthea patient's current record.

    Only active records (empty ``STOP``) are kept. Conditions are the descriptions of
    ``(disorder)`` concepts, tag removed and without repeats; findings, situations and
    social-determinant concepts ("Medication review due", "Full-time employment") are
    left out. Medications are the descriptions as given ("Amoxicillin 500 MG Oral
    Tablet"). Allergies are those of category ``medication`` (food and environment
    allergens are not drugs); with an older export that has no ``CATEGORY`` column,
    every active allergy is kept. The free text is empty.

    Args:
        patient_id: the ``Id`` of ``patients.csv``.
        synthea_dir: folder of the Synthea CSV files (default: the bundled sample,
            ``<KEDREC_DATA_DIR>/patients/synthea_us_111``).
        today: the reference date of the age (default: today); a dead patient's age is
            taken at ``DEATHDATE``.

    Returns:
        The patient, with ``source="synthea:<patient_id>"``.

    Raises:
        DataMissingError: the folder or one of the four files is missing.
        InvalidInputError: no such patient, or the patient has no active disorder.
    """
    folder = synthea_dir or default_synthea_dir()
    tables = {name: find_table(folder, name, WHAT) for name in _TABLES}
    shown = patient_id if len(patient_id) <= 80 else patient_id[:77] + "..."

    person = next(
        (
            row
            for row in read_table(tables["patients"], ("ID", "BIRTHDATE", "DEATHDATE", "GENDER"))
            if row[0] == patient_id
        ),
        None,
    )
    if person is None:
        raise InvalidInputError(f"No Synthea patient {shown!r} in {folder}.")

    conditions = unique(
        name
        for name, tag in (
            split_semantic_tag(description)
            for description in _active(tables["conditions"], patient_id)
        )
        if tag == "disorder"
    )
    if not conditions:
        raise InvalidInputError(f"Synthea patient {shown!r} has no active condition to treat.")
    medications = unique(_active(tables["medications"], patient_id))
    allergies = unique(
        split_semantic_tag(description)[0]
        for description in _active(tables["allergies"], patient_id, DRUG_ALLERGY_CATEGORIES)
    )

    log.info(
        "Synthea patient read: %d condition(s), %d medication(s), %d drug allerg(ies)",
        len(conditions),
        len(medications),
        len(allergies),
    )
    return build_patient(
        f"Synthea patient {shown!r}",
        conditions=conditions,
        medications=medications,
        allergies=allergies,
        age=_age(person[1], person[2], today or date.today()),
        sex=_SEX.get(person[3].upper()),
        source=f"synthea:{patient_id}",
    )


def _active(path: Path, patient_id: str, categories: frozenset[str] | None = None) -> list[str]:
    """Descriptions of the patient's rows without a STOP date (of these categories)."""
    columns = ("PATIENT", "STOP", "DESCRIPTION", "CATEGORY")
    return [
        description
        for patient, stop, description, category in read_table(
            path, columns, optional=frozenset({"CATEGORY"})
        )
        if patient == patient_id
        and not stop
        and (categories is None or not category or category.lower() in categories)
    ]


def _age(birth: str, death: str, today: date) -> int | None:
    """Age in whole years at death, or at ``today`` when alive; ``None`` if unreadable."""
    try:
        born = date.fromisoformat(birth[:10])
        on = date.fromisoformat(death[:10]) if death else today
    except ValueError:
        return None
    age = age_between(born, on)
    return age if 0 <= age <= 130 else None
