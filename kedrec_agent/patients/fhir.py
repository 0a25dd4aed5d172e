"""FHIR R4 Bundles as patients, read with ``fhir.resources`` (its R4B models read R4 JSON).

Patient gives sex and age; active Conditions, MedicationStatements / MedicationRequests
and AllergyIntolerances give the lists. Each CodeableConcept becomes one value: a code the
agent links directly (DrugBank ``DB…``, ``MESH:…``, ``DOID:…``, ``ICD9:…``), else the
concept's text, else a coding's display without its SNOMED CT semantic tag (ICD-10, SNOMED
CT and RxNorm codes cannot be mapped offline, so their names are used).

Example:
    >>> bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
    ...     "resourceType": "Condition", "subject": {"reference": "Patient/p"},
    ...     "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-9-cm",
    ...                          "code": "250.00"}]}}}]}
    >>> from_fhir(bundle).conditions
    ['ICD9:250.00']
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from pydantic import BaseModel, ValidationError

from kedrec_agent.errors import InvalidInputError
from kedrec_agent.patients.common import age_between, build_patient, split_semantic_tag, unique
from kedrec_agent.patients.model import PatientInput

log = logging.getLogger(__name__)

_MODELS: dict[str, type[Resource]] = {
    "Patient": Patient,
    "Condition": Condition,
    "MedicationStatement": MedicationStatement,
    "MedicationRequest": MedicationRequest,
    "Medication": Medication,
    "AllergyIntolerance": AllergyIntolerance,
}

# Code systems the linker reads directly, in order of preference, with their code syntax.
_DRUGBANK = ("http://www.drugbank.ca", "http://drugbank.ca", "http://go.drugbank.com")
_MESH = ("http://id.nlm.nih.gov/mesh", "urn:oid:2.16.840.1.113883.6.177")
_DOID = ("http://purl.obolibrary.org/obo/doid", "http://purl.obolibrary.org/obo/doid.owl")
_ICD9 = (
    "http://hl7.org/fhir/sid/icd-9-cm",
    "http://hl7.org/fhir/sid/icd-9-cm/diagnosis",
    "urn:oid:2.16.840.1.113883.6.103",
    "urn:oid:2.16.840.1.113883.6.2",
)
_LINKABLE: tuple[tuple[tuple[str, ...], re.Pattern[str], Callable[[str], str]], ...] = (
    (_DRUGBANK, re.compile(r"^(DB\d{5})$", re.I), str.upper),
    (_MESH, re.compile(r"^(?:MESH:)?([CD]\d{6,9})$", re.I), lambda c: f"MESH:{c.upper()}"),
    (_DOID, re.compile(r"^(?:DOID[:_])?(\d+)$", re.I), lambda c: f"DOID:{c}"),
    (_ICD9, re.compile(r"^(?:ICD9:)?([VE]?\d[\d.]*)$", re.I), lambda c: f"ICD9:{c.upper()}"),
)

_CONDITION_OFF = frozenset({"inactive", "remission", "resolved"})
_ALLERGY_OFF = frozenset({"inactive", "resolved"})
_NOT_TRUE = frozenset({"refuted", "entered-in-error"})
_MEDICATION_OFF = frozenset({"stopped", "completed", "cancelled", "entered-in-error", "not-taken"})
_DRUG_ALLERGY = frozenset({"medication", "biologic"})


def from_fhir(bundle: str | bytes | dict[str, Any], today: date | None = None) -> PatientInput:
    """The patient described by a FHIR R4 Bundle.

    Kept: Conditions unless their clinicalStatus is inactive / remission / resolved or
    their verificationStatus refuted / entered-in-error; MedicationStatements and
    MedicationRequests unless stopped / completed / cancelled / entered-in-error /
    not-taken (or ``doNotPerform``), with ``medicationReference`` resolved against the
    Medications of the bundle or contained in the resource; AllergyIntolerances unless
    inactive / resolved / refuted / entered-in-error, or of a non-drug category (food,
    environment). A resource without a usable code or text is skipped. Only counts are
    logged (INFO), never a value of the record. Resource types not listed are ignored.

    Args:
        bundle: the Bundle, as JSON text or bytes or as a parsed dict.
        today: the reference date of the age (default: today). A partial birthDate
            (``1950`` or ``1950-03``) counts from its first day.

    Returns:
        The patient (empty free text), with ``source="fhir"``.

    Raises:
        InvalidInputError: the input is not JSON, not a Bundle, holds an invalid resource
            (the message names the entry, counted from 0, and the fields, not the values),
            holds more than one Patient, or has no usable Condition.
    """
    entries = _entries(_load(bundle))
    skipped: Counter[str] = Counter()
    resources: list[BaseModel] = []
    medications: dict[str, Medication] = {}
    for index, entry in enumerate(entries):
        found = _validate(index, entry)
        if found is None:
            skipped["other resource"] += 1
            continue
        resources.append(found)
        if isinstance(found, Medication):
            for key in (entry.get("fullUrl"), f"Medication/{found.id}" if found.id else None):
                if isinstance(key, str) and key:
                    medications[key] = found

    patients = [resource for resource in resources if isinstance(resource, Patient)]
    if len(patients) > 1:
        raise InvalidInputError(
            f"The FHIR Bundle holds {len(patients)} Patient resources; give one patient's record."
        )
    conditions: list[str] = []
    drugs: list[str] = []
    allergies: list[str] = []
    for resource in resources:
        if isinstance(resource, Condition):
            _keep(conditions, skipped, "condition", _condition(resource))
        elif isinstance(resource, MedicationStatement | MedicationRequest):
            _keep(drugs, skipped, "medication", _medication(resource, medications))
        elif isinstance(resource, AllergyIntolerance):
            _keep(allergies, skipped, "allergy", _allergy(resource))

    log.info(
        "FHIR Bundle read: %d condition(s), %d medication(s), %d allerg(ies) kept; skipped: %s",
        len(conditions),
        len(drugs),
        len(allergies),
        ", ".join(f"{count} {why}" for why, count in sorted(skipped.items())) or "none",
    )
    if not conditions:
        raise InvalidInputError(
            "The FHIR Bundle has no usable Condition: none is active with a code or text "
            f"({skipped['inactive condition'] + skipped['refuted condition']} inactive or "
            f"refuted, {skipped['uncoded condition']} without a usable code or text)."
        )
    patient = patients[0] if patients else None
    return build_patient(
        "The FHIR record",
        conditions=unique(conditions),
        medications=unique(drugs),
        allergies=unique(allergies),
        age=_age(patient, today or date.today()),
        sex=patient.gender if patient and patient.gender in ("female", "male") else None,
        source="fhir",
    )


def concept_value(concept: CodeableConcept | None) -> str | None:
    """The value to keep of a CodeableConcept (a linkable code, else its name).

    Args:
        concept: the concept, e.g. ``Condition.code``.

    Returns:
        ``DB00619`` / ``MESH:D003924`` / ``DOID:9352`` / ``ICD9:250.00`` from a coding of
        DrugBank, MeSH, DOID or ICD-9-CM (in that order of preference); else the concept's
        text; else the first coding display, without a SNOMED CT semantic tag such as
        `` (disorder)``; ``None`` when there is none of these.
    """
    if concept is None:
        return None
    codings = concept.coding or []
    for systems, pattern, spell in _LINKABLE:
        for coding in codings:
            code = (coding.code or "").strip()
            if _system(coding.system) in systems and (match := pattern.match(code)):
                return spell(match.group(1))
    names = [concept.text, *(coding.display for coding in codings)]
    return next((split_semantic_tag(name)[0] for name in names if name and name.strip()), None)


def _system(system: str | None) -> str:
    text = (system or "").strip().lower().rstrip("/")
    return text.replace("https://", "http://", 1)


def _load(bundle: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """The Bundle as a dict, its envelope (all but the entries) validated."""
    data: object = bundle
    if isinstance(bundle, str | bytes):
        try:
            data = json.loads(bundle)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"The FHIR input is not valid JSON: {exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}."
            ) from None
        except ValueError:  # bytes that are not UTF-8/16/32
            raise InvalidInputError("The FHIR input is not valid JSON text (UTF-8).") from None
        except RecursionError:  # json's decoder recurses once per nested array or object
            raise InvalidInputError("The FHIR input is nested too deeply.") from None
    if not isinstance(data, dict):
        raise InvalidInputError(
            f"The FHIR input must be a JSON object (a Bundle), not a {type(data).__name__}."
        )
    kind = data.get("resourceType")
    if kind != "Bundle":
        what = (
            f"a FHIR {kind} resource"
            if isinstance(kind, str) and kind.isalpha() and len(kind) <= 64
            else 'a JSON object without "resourceType": "Bundle"'
        )
        raise InvalidInputError(
            f"The FHIR input is {what}, not a Bundle: give a Bundle of the patient's resources."
        )
    try:
        Bundle.model_validate({key: value for key, value in data.items() if key != "entry"})
    except ValidationError as exc:
        raise InvalidInputError(f"The FHIR Bundle is invalid: {_problems(exc)}.") from None
    return data


def _entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidInputError("The FHIR Bundle is invalid: entry must be a list.")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InvalidInputError(f"FHIR Bundle entry {index} is not a JSON object.")
    return entries


def _validate(index: int, entry: dict[str, Any]) -> Resource | None:
    """The entry's resource as a model, or ``None`` for a type this reader ignores."""
    resource = entry.get("resource")
    try:
        BundleEntry.model_validate(
            {key: value for key, value in entry.items() if key != "resource"}
        )
    except ValidationError as exc:
        raise InvalidInputError(
            f"FHIR Bundle entry {index} is invalid: {_problems(exc)}."
        ) from None
    if not isinstance(resource, dict):
        return None
    kind = resource.get("resourceType")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return None
    try:
        return model.model_validate(resource)
    except ValidationError as exc:
        raise InvalidInputError(
            f"FHIR Bundle entry {index} ({kind}) is invalid: {_problems(exc)}."
        ) from None


def _problems(exc: ValidationError) -> str:
    """Field locations and messages of a validation error, without the input values."""
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc'] if p != 'root') or 'resource'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )


def _keep(values: list[str], skipped: Counter[str], kind: str, outcome: str) -> None:
    """Append a kept value, or count why the resource was skipped (``"!reason"``)."""
    if outcome.startswith("!"):
        skipped[f"{outcome[1:]} {kind}"] += 1
    else:
        values.append(outcome)


def _codes(concept: CodeableConcept | None) -> set[str]:
    codings = concept.coding or [] if concept is not None else []
    return {coding.code.strip().lower() for coding in codings if coding.code}


def _condition(condition: Condition) -> str:
    if _codes(condition.clinicalStatus) & _CONDITION_OFF:
        return "!inactive"
    if _codes(condition.verificationStatus) & _NOT_TRUE:
        return "!refuted"
    return concept_value(condition.code) or "!uncoded"


def _allergy(allergy: AllergyIntolerance) -> str:
    if _codes(allergy.clinicalStatus) & _ALLERGY_OFF:
        return "!inactive"
    if _codes(allergy.verificationStatus) & _NOT_TRUE:
        return "!refuted"
    categories = {c.lower() for c in allergy.category or [] if c}
    if categories and not categories & _DRUG_ALLERGY:
        return "!non-drug"
    return concept_value(allergy.code) or "!uncoded"


def _medication(
    resource: MedicationStatement | MedicationRequest, bundled: dict[str, Medication]
) -> str:
    if (resource.status or "").lower() in _MEDICATION_OFF:
        return "!stopped"
    if isinstance(resource, MedicationRequest) and resource.doNotPerform:
        return "!do-not-perform"
    if value := concept_value(resource.medicationCodeableConcept):
        return value
    reference = resource.medicationReference
    if reference is None:
        return "!uncoded"
    medication = _resolve(reference, resource.contained or [], bundled)
    if medication is not None and (value := concept_value(medication.code)):
        return value
    if reference.display and reference.display.strip():
        return split_semantic_tag(reference.display)[0]
    return "!uncoded"


def _resolve(
    reference: Reference, contained: Sequence[Resource], bundled: dict[str, Medication]
) -> Medication | None:
    """The Medication a reference points to: ``#id`` (contained), a fullUrl, ``Medication/id``."""
    target = (reference.reference or "").strip()
    if target.startswith("#"):
        return next(
            (r for r in contained if isinstance(r, Medication) and r.id == target[1:]), None
        )
    if target in bundled:
        return bundled[target]
    parts = target.split("/_history/")[0].rstrip("/").split("/")
    return bundled.get("/".join(parts[-2:])) if len(parts) >= 2 else None


def _age(patient: Patient | None, today: date) -> int | None:
    """Whole years from Patient.birthDate to ``today``; ``None`` if absent or implausible."""
    born: object = patient.birthDate if patient is not None else None
    if isinstance(born, datetime):
        born = born.date()
    if isinstance(born, str):  # partial date: YYYY or YYYY-MM
        match = re.match(r"^(\d{4})(?:-(\d{2}))?", born)
        born = date(int(match.group(1)), int(match.group(2) or 1), 1) if match else None
    if not isinstance(born, date):
        return None
    age = age_between(born, today)
    return age if 0 <= age <= 130 else None
