"""The protocol's records: a visit (codes in, ATC-3 classes prescribed) and a patient.

Both are frozen: a recommender can read what it is given but not change the cohort.

Example:
    >>> v = Visit(1, 10, "2101-01-01 08:00", frozenset({"4019"}), frozenset({"3893"}),
    ...           frozenset({"C07A"}))
    >>> v.without_medications().medications
    frozenset()
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Visit:
    """One admission of the cohort.

    Attributes:
        subject_id: the patient (``SUBJECT_ID``).
        hadm_id: the admission (``HADM_ID``).
        admitted: ``ADMITTIME`` as ``YYYY-MM-DD HH:MM`` (``""`` when unknown); visits are
            ordered by it.
        diagnoses: the admission's ICD-9 diagnosis codes, as written (text).
        procedures: its ICD-9 procedure codes.
        medications: the ATC level-3 classes (``"C07A"``) of its prescriptions; empty in
            the copy a recommender gets for the visit it answers.
    """

    subject_id: int
    hadm_id: int
    admitted: str
    diagnoses: frozenset[str]
    procedures: frozenset[str]
    medications: frozenset[str]

    def without_medications(self) -> Visit:
        """A copy with no medications: what a recommender sees of the visit it answers."""
        return dataclasses.replace(self, medications=frozenset())


@dataclass(frozen=True)
class Patient:
    """A patient of the cohort and their visits, in admission order."""

    subject_id: int
    visits: tuple[Visit, ...]
