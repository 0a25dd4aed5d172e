"""Checks of a recommendation against the patient: allergies, duplicate therapy, interactions.

* **Allergy** (veto): the drug is the allergen itself, belongs to an allergen class
  (``allergic to penicillins`` and amoxicillin, via the MeSH tree), or shares a close MeSH
  class with an allergen drug (allergic to ampicillin, offered amoxicillin).
* **Duplicate therapy** (veto): the patient already takes the drug.
* **Interaction** (warning): a known interaction between the drug and a current medication
  or another recommended drug, with DrugBank's description where there is one.

Vetoed drugs are removed from the choices; every finding is returned as a warning and is
never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from kedrec_agent.kg.models import Interaction
from kedrec_agent.reasoning.schema import Recommendation
from kedrec_agent.safety.classes import DrugClasses


class SafetyWarning(BaseModel):
    """One safety finding about a recommended drug."""

    kind: Literal["allergy", "duplicate", "interaction", "unchecked"]
    severity: Literal["veto", "warning"]
    drug_id: str | None = Field(
        default=None, description="the drug concerned; None for an unrecognised medication"
    )
    message: str
    other_id: str | None = Field(
        default=None, description="the other drug of an interaction (current or recommended)"
    )


def _allergy(
    drug_id: str,
    drug: str,
    allergy: str,
    name_of: Callable[[str], str | None],
    classes: DrugClasses,
) -> str | None:
    allergen = name_of(allergy) or allergy
    if allergy == drug_id:
        return f"{drug} is withheld: the patient is allergic to it."
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
) -> tuple[Recommendation, list[SafetyWarning]]:
    """The recommendation without vetoed drugs, and every finding.

    Args:
        recommendation: the reasoning node's answer.
        medications: DrugBank ids the patient takes.
        allergies: allergen ids (DrugBank drugs or MeSH substance classes).
        interactions: known interactions among the candidates and current medications.
        name_of: display name of an id.
        classes: the MeSH drug classes.
    """
    warnings: list[SafetyWarning] = []
    kept = []
    for choice in recommendation.choices:
        vetoes = [
            SafetyWarning(kind="allergy", severity="veto", drug_id=choice.drug_id, message=m)
            for allergy in allergies
            if (m := _allergy(choice.drug_id, choice.drug_name, allergy, name_of, classes))
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
    checked = recommendation.model_copy(update={"choices": kept})
    return checked, _interactions(checked, medications, interactions, name_of) + warnings


def _interactions(
    recommendation: Recommendation,
    medications: Sequence[str],
    interactions: Sequence[Interaction],
    name_of: Callable[[str], str | None],
) -> list[SafetyWarning]:
    """One warning per interacting pair, DrugBank's description where it has one.

    Pairs with a current medication come first, then pairs of recommended drugs.
    """
    chosen = {c.drug_id: c.drug_name for c in recommendation.choices}
    found: dict[frozenset[str], SafetyWarning] = {}
    described: set[frozenset[str]] = set()
    for drug_id, drug in chosen.items():
        others = (set(medications) | set(chosen)) - {drug_id}
        for inter in interactions:
            pair = frozenset((inter.drug_a.local_id, inter.drug_b.local_id))
            if drug_id not in pair or not pair & others or pair in described:
                continue
            if pair in found and not inter.description:
                continue
            other = next(iter(pair - {drug_id}))
            both = "" if other in medications else " (both are recommended)"
            message = inter.description or f"{drug} interacts with {name_of(other) or other}."
            found[pair] = SafetyWarning(
                kind="interaction",
                severity="warning",
                drug_id=drug_id,
                other_id=other,
                message=message + both,
            )
            if inter.description:
                described.add(pair)
    return sorted(found.values(), key=lambda w: w.other_id not in medications)
