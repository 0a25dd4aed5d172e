"""Resolve a patient (free text and structured fields) to entity ids.

Free text goes through the note extractor (negations, allergy and family-history cues);
structured values are names or codes, each linked on its own. What cannot be linked is
reported, never silently dropped: an unlinked medication or allergy cannot be checked for
interactions, so it becomes a safety warning downstream.

Example:
    >>> patient = PatientInput(conditions=["DOID:9352"])
    >>> linked = link_patient(get_linker(), patient)  # doctest: +SKIP
    >>> linked.conditions  # doctest: +SKIP
    ['MESH:D003924']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kedrec_agent.errors import UnknownEntityError
from kedrec_agent.linking import EntityKind, LinkedEntity, Linker
from kedrec_agent.linking.extract import find_names
from kedrec_agent.patients import PatientInput

_ICD10 = re.compile(r"(?i)^\s*icd-?10(-cm)?\s*[: ]")


@dataclass
class LinkedPatient:
    """A patient as ids.

    Attributes:
        conditions: canonical disease ids (text first, then structured), no duplicates.
        medications: DrugBank ids of current medications.
        allergies: DrugBank or MeSH ids of allergy substances.
        age: years, structured value first, else stated in the text.
        sex: ``"female"`` / ``"male"``, likewise.
        unlinked: ``(field, value, problem)`` for each structured value not linked.
    """

    conditions: list[str] = field(default_factory=list)
    medications: list[str] = field(default_factory=list)
    allergies: list[str] = field(default_factory=list)
    age: int | None = None
    sex: str | None = None
    unlinked: list[tuple[str, str, str]] = field(default_factory=list)


def link_value(linker: Linker, value: str, kinds: Sequence[EntityKind]) -> LinkedEntity:
    """The entity a structured value names.

    An id or name of one of ``kinds``, else the longest known name inside it
    ("Amoxicillin 500 MG Oral Tablet" -> amoxicillin).

    Raises:
        UnknownEntityError: nothing of ``kinds`` is named (with suggestions).
    """
    error: UnknownEntityError | None = None
    for kind in kinds:
        try:
            return linker.link(value, kind)
        except UnknownEntityError as exc:
            error = error or exc
    # A name the value proposes or negates ("recommend imatinib", "no aspirin") or that is
    # about a relative is not what the field states.
    found = [
        m
        for m in find_names(linker, value, kinds=kinds)
        if not (m.negated or m.requested or m.family)
    ]
    if found:
        best = max(found, key=lambda m: (m.end - m.start, -m.start))
        entry = best.entries[0]
        return linker.entity(entry.id, entry.kind, entry.name, 100.0)
    assert error is not None
    raise error


def _problem(value: str, exc: UnknownEntityError) -> str:
    if _ICD10.match(value):
        return "ICD-10 codes cannot be mapped with the offline vocabularies; give the name"
    return str(exc)


def link_patient(linker: Linker, patient: PatientInput) -> LinkedPatient:
    """Link the text and the structured fields of ``patient``.

    Args:
        linker: the vocabularies.
        patient: the caller's input (validated).

    Returns:
        The ids found, and the structured values that could not be linked.
    """
    linked = LinkedPatient(age=patient.age, sex=patient.sex)
    if patient.text:
        mentions = linker.extract(patient.text)
        linked.conditions += [m.entity.canonical for m in mentions.conditions if not m.negated]
        linked.medications += [m.entity.id for m in mentions.medications if not m.negated]
        linked.allergies += [m.entity.id for m in mentions.allergies if not m.negated]
        linked.age = linked.age if linked.age is not None else mentions.age
        linked.sex = linked.sex or mentions.sex
    fields: tuple[tuple[str, list[str], tuple[EntityKind, ...], list[str]], ...] = (
        ("conditions", patient.conditions, ("disease",), linked.conditions),
        ("medications", patient.medications, ("drug",), linked.medications),
        ("allergies", patient.allergies, ("drug", "substance"), linked.allergies),
    )
    for name, values, kinds, into in fields:
        for value in values:
            try:
                entity = link_value(linker, value, kinds)
            except UnknownEntityError as exc:
                linked.unlinked.append((name, value, _problem(value, exc)))
                continue
            into.append(entity.canonical if entity.kind == "disease" else entity.id)
    linked.conditions = list(dict.fromkeys(linked.conditions))
    linked.medications = list(dict.fromkeys(linked.medications))
    linked.allergies = list(dict.fromkeys(linked.allergies))
    return linked
