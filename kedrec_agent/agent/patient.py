"""Resolve a patient (free text and structured fields) to entity ids.

Free text goes through the note extractor (negations, allergy and family-history cues);
structured values are names or codes, each linked on its own. What cannot be linked is
reported, never silently dropped: an unlinked medication or allergy cannot be checked for
interactions, so it becomes a safety warning downstream. A medication that names only an
ion, an element or an excipient (Sulfate ion, Water, Lactose: see
:func:`~kedrec_agent.linking.forms.inactive_reason`) is reported the same way
(:class:`NotAMedicationError`), not linked to it; an allergy to one is kept. A condition
given as an ICD-9 code whose title names no disease is reported with that title.

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
from kedrec_agent.linking.icd9 import dotted, parse_icd9
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
        pregnant: pregnant or planning a pregnancy (``False``: stated not), likewise.
        unlinked: ``(field, value, problem)`` for each structured value not linked.
        names: each condition's name as linked (the heading the patient's words matched):
            "depression" links to *Depressive Disorder*, whose group of equivalent ids has
            MeSH's *Adjustment Disorders* as its canonical key.
    """

    conditions: list[str] = field(default_factory=list)
    medications: list[str] = field(default_factory=list)
    allergies: list[str] = field(default_factory=list)
    age: int | None = None
    sex: str | None = None
    pregnant: bool | None = None
    unlinked: list[tuple[str, str, str]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


class NotAMedicationError(UnknownEntityError):
    """A medication value that names only an ion, an element or an excipient.

    Attributes:
        entity: what the value names (``Sulfate ion``, ``Water``).
        reason: ``"an ion"``, ``"an element"`` or ``"an excipient"``.
    """

    def __init__(self, query: str, entity: LinkedEntity, reason: str) -> None:
        super().__init__(query, "drug")
        self.entity = entity
        self.reason = reason
        shown = query if len(query) <= 80 else query[:77] + "..."
        self.args = (
            f"Not a medication: {shown!r} names only {entity.name} ({entity.id}), {reason}.",
        )


def link_value(
    linker: Linker, value: str, kinds: Sequence[EntityKind], medication: bool = False
) -> LinkedEntity:
    """The entity a structured value names.

    An id or name of one of ``kinds``, else the longest known name inside it
    ("Amoxicillin 500 MG Oral Tablet" -> amoxicillin).

    Args:
        linker: the vocabularies.
        value: the structured value.
        kinds: the kinds of entity it may name, in order of preference.
        medication: the value is a current medication, so an ion, element or excipient
            (:meth:`~kedrec_agent.linking.linker.Linker.inactive_reason`) does not count.

    Raises:
        NotAMedicationError: a medication that names only an ion, element or excipient.
        UnknownEntityError: nothing of ``kinds`` is named (with suggestions).
    """
    error: UnknownEntityError | None = None
    inactive: NotAMedicationError | None = None

    def usable(entity_id: str) -> bool:
        return not medication or linker.inactive_reason(entity_id) is None

    for kind in kinds:
        try:
            entity = linker.link(value, kind)
        except UnknownEntityError as exc:
            error = error or exc
            continue
        if usable(entity.id):
            return entity
        inactive = inactive or NotAMedicationError(
            value, entity, linker.inactive_reason(entity.id) or ""
        )
    # A name the value proposes or negates ("recommend imatinib", "no aspirin") or that is
    # about a relative is not what the field states.
    found = [
        m
        for m in find_names(linker, value, kinds=kinds)
        if not (m.negated or m.requested or m.family)
    ]
    usable_found = [(m, [e for e in m.entries if usable(e.id)]) for m in found]
    named = [(m, entries) for m, entries in usable_found if entries]
    if named:
        _, entries = max(named, key=lambda pair: (pair[0].end - pair[0].start, -pair[0].start))
        entry = entries[0]
        return linker.entity(entry.id, entry.kind, entry.name, 100.0)
    if inactive is None and found:
        entry = max(found, key=lambda m: (m.end - m.start, -m.start)).entries[0]
        entity = linker.entity(entry.id, entry.kind, entry.name, 100.0)
        inactive = NotAMedicationError(value, entity, linker.inactive_reason(entry.id) or "")
    if inactive is not None:
        raise inactive
    assert error is not None
    raise error


def _problem(linker: Linker, field: str, value: str, exc: UnknownEntityError) -> str:
    if _ICD10.match(value):
        return "ICD-10 codes cannot be mapped with the offline vocabularies; give the name"
    code = parse_icd9(value) if field == "conditions" else None
    if code is not None and code.explicit:
        titles = [title for _, title in linker.icd9_titles(value)]
        if not titles:
            return f"ICD-9 code {dotted(code.key)} is not in the ICD-9 diagnosis table"
        shown = "; ".join(titles[:3]) + ("; ..." if len(titles) > 3 else "")
        return f"ICD-9 {dotted(code.key)} ({shown}) names no disease of the vocabularies"
    return str(exc)


def link_patient(linker: Linker, patient: PatientInput) -> LinkedPatient:
    """Link the text and the structured fields of ``patient``.

    Args:
        linker: the vocabularies.
        patient: the caller's input (validated).

    Returns:
        The ids found, and the structured values that could not be linked.
    """
    linked = LinkedPatient(age=patient.age, sex=patient.sex, pregnant=patient.pregnant)
    if patient.text:
        mentions = linker.extract(patient.text)
        for mention in mentions.conditions:
            if not mention.negated:
                linked.conditions.append(mention.entity.canonical)
                linked.names.setdefault(mention.entity.canonical, mention.entity.name)
        linked.medications += [m.entity.id for m in mentions.medications if not m.negated]
        linked.allergies += [m.entity.id for m in mentions.allergies if not m.negated]
        linked.age = linked.age if linked.age is not None else mentions.age
        linked.sex = linked.sex or mentions.sex
        linked.pregnant = linked.pregnant if linked.pregnant is not None else mentions.pregnant
    fields: tuple[tuple[str, list[str], tuple[EntityKind, ...], list[str]], ...] = (
        ("conditions", patient.conditions, ("disease",), linked.conditions),
        ("medications", patient.medications, ("drug",), linked.medications),
        ("allergies", patient.allergies, ("drug", "substance"), linked.allergies),
    )
    for name, values, kinds, into in fields:
        for value in values:
            try:
                entity = link_value(linker, value, kinds, medication=name == "medications")
            except UnknownEntityError as exc:
                linked.unlinked.append((name, value, _problem(linker, name, value, exc)))
                continue
            if entity.kind == "disease":
                into.append(entity.canonical)
                linked.names.setdefault(entity.canonical, entity.name)
            else:
                into.append(entity.id)
    linked.conditions = list(dict.fromkeys(linked.conditions))
    linked.medications = list(dict.fromkeys(linked.medications))
    linked.allergies = list(dict.fromkeys(linked.allergies))
    return linked
