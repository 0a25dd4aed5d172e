"""Checks of a recommendation against the patient: allergies, duplicate therapy, interactions.

* **Allergy** (veto): the drug is the allergen itself, belongs to an allergen class
  (``allergic to penicillins`` and amoxicillin, via the MeSH tree), or shares a close MeSH
  class with an allergen drug (allergic to ampicillin, offered amoxicillin), unless it is
  in a group that only may cross-react (a thiazide for a "sulfa" allergy: a caution).
* **Duplicate therapy** (veto): the patient already takes the drug.
* **Interaction** (warning): a known interaction between the drug and a current medication
  or another recommended drug, with DrugBank's description where there is one and its
  severity (:mod:`kedrec_agent.safety.severity`).

Vetoed drugs are removed from the choices; a drug with a major interaction with a current
medication moves behind the choices without one; every finding is returned as a warning
(most severe first) and is never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from kedrec_agent.kg.models import Interaction
from kedrec_agent.reasoning.schema import Recommendation
from kedrec_agent.safety.classes import DrugClasses
from kedrec_agent.safety.severity import RANK, Level, SeverityTable


class SafetyWarning(BaseModel):
    """One safety finding about a recommended drug."""

    kind: Literal["allergy", "comorbidity", "duplicate", "interaction", "pregnancy", "unchecked"]
    severity: Literal["veto", "warning"]
    drug_id: str | None = Field(
        default=None, description="the drug concerned; None for an unrecognised medication"
    )
    message: str
    other_id: str | None = Field(
        default=None, description="the other drug of an interaction (current or recommended)"
    )
    ddi_severity: Level | None = Field(
        default=None, description="an interaction's severity: major, moderate, minor, unknown"
    )
    severity_source: str | None = Field(
        default=None, description="where the severity comes from: DDInter, interaction type"
    )


def allergy_conflict(
    drug_id: str,
    drug: str,
    allergy: str,
    name_of: Callable[[str], str | None],
    classes: DrugClasses,
    cross_reactive: bool = False,
) -> str | None:
    """Why ``drug`` conflicts with ``allergy`` (the same drug, or its MeSH class), or None.

    With ``cross_reactive`` (the drug is in a group that may cross-react with the allergy,
    :mod:`kedrec_agent.safety.crossreactivity`) only the drug itself is a conflict: the
    class finding is a caution. A thiazide is in MeSH's Sulfonamides, but a "sulfa" allergy
    is to the antibiotics, and the thiazide is cautioned, not withheld.
    """
    allergen = name_of(allergy) or allergy
    if allergy == drug_id:
        return f"{drug} is withheld: the patient is allergic to it."
    if cross_reactive:
        return None
    if allergy.startswith("MESH:"):
        if classes.member_of(drug, allergy):
            return f"{drug} is withheld: the patient is allergic to {allergen}, and it is one."
        return None
    shared = classes.shared_class(drug, allergen)
    if shared:
        return (
            f"{drug} is withheld: the patient is allergic to {allergen}, a related drug "
            f"(MeSH class {shared})."
        )
    return None


def check_recommendation(
    recommendation: Recommendation,
    medications: Sequence[str],
    allergies: Sequence[str],
    interactions: Sequence[Interaction],
    name_of: Callable[[str], str | None],
    classes: DrugClasses,
    severities: SeverityTable | None = None,
    cross_reactive: Collection[str] = (),
) -> tuple[Recommendation, list[SafetyWarning]]:
    """The recommendation without vetoed drugs, safest first, and every finding.

    Args:
        recommendation: the reasoning node's answer.
        medications: DrugBank ids the patient takes.
        allergies: allergen ids (DrugBank drugs or MeSH substance classes).
        interactions: known interactions among the candidates and current medications.
        name_of: display name of an id.
        classes: the MeSH drug classes.
        severities: interaction severities (none: every severity is unknown).
        cross_reactive: drugs whose allergy class finding is a cross-reactivity caution
            (:func:`kedrec_agent.safety.crossreactivity.cross_reactivity`), not a veto.
    """
    warnings: list[SafetyWarning] = []
    kept = []
    for choice in recommendation.choices:
        vetoes = [
            SafetyWarning(kind="allergy", severity="veto", drug_id=choice.drug_id, message=m)
            for allergy in allergies
            if (
                m := allergy_conflict(
                    choice.drug_id,
                    choice.drug_name,
                    allergy,
                    name_of,
                    classes,
                    choice.drug_id in cross_reactive,
                )
            )
        ]
        if choice.drug_id in medications:
            vetoes.append(
                SafetyWarning(
                    kind="duplicate",
                    severity="veto",
                    drug_id=choice.drug_id,
                    message=f"{choice.drug_name} is withheld: the patient already takes it.",
                )
            )
        warnings += vetoes
        if not vetoes:
            kept.append(choice)
    found = _interactions(
        recommendation.model_copy(update={"choices": kept}),
        medications,
        interactions,
        name_of,
        severities or SeverityTable({}, {}),
    )
    major = {w.drug_id for w in found if w.ddi_severity == "major" and w.other_id in medications}
    kept.sort(key=lambda c: c.drug_id in major)  # stable: the model's order otherwise
    checked = recommendation.model_copy(update={"choices": kept})
    return checked, found + warnings


def _interactions(
    recommendation: Recommendation,
    medications: Sequence[str],
    interactions: Sequence[Interaction],
    name_of: Callable[[str], str | None],
    severities: SeverityTable,
) -> list[SafetyWarning]:
    """One warning per interacting pair, DrugBank's description where it has one.

    Pairs with a current medication come first, the most severe first, then pairs of
    recommended drugs that would be taken together: the leading options of different
    conditions (two options for the same condition are alternatives, and an alternative
    is checked against current medications only; without conditions, every pair).
    """
    chosen = {c.drug_id: c.drug_name for c in recommendation.choices}
    leading: dict[str | None, str] = {}
    for choice in recommendation.choices:
        leading.setdefault(choice.condition, choice.drug_id)
    together = set(leading.values()) if None not in leading else set(chosen)
    rows: dict[frozenset[str], list[Interaction]] = {}
    for inter in interactions:
        rows.setdefault(frozenset((inter.drug_a.local_id, inter.drug_b.local_id)), []).append(inter)
    found: list[SafetyWarning] = []
    done: set[frozenset[str]] = set()
    for drug_id, drug in chosen.items():
        others = (set(medications) | set(chosen)) - {drug_id}
        for pair, pair_rows in rows.items():
            if drug_id not in pair or not pair & others or pair in done:
                continue
            other = next(iter(pair - {drug_id}))
            if other not in medications and not pair <= together:
                continue  # an alternative, or a second option for the same condition
            done.add(pair)
            described = next((r.description for r in pair_rows if r.description), None)
            message = described or f"{drug} interacts with {name_of(other) or other}."
            both = "" if other in medications else " (both are recommended)"
            severity = severities.of(pair_rows)
            found.append(
                SafetyWarning(
                    kind="interaction",
                    severity="warning",
                    drug_id=drug_id,
                    other_id=other,
                    message=f"{_SEVERITY_WORDS[severity.level]}: {message}{both}",
                    ddi_severity=severity.level,
                    severity_source=severity.source if severity.source != "none" else None,
                )
            )
    return sorted(
        found,
        key=lambda w: (w.other_id not in medications, -RANK[w.ddi_severity or "unknown"]),
    )


_SEVERITY_WORDS: dict[Level, str] = {
    "major": "Major interaction",
    "moderate": "Moderate interaction",
    "minor": "Minor interaction",
    "unknown": "Interaction (severity unknown)",
}
