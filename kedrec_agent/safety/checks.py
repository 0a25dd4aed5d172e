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
    chosen = {c.drug_id for c in recommendation.choices}
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
        others = (set(medications) | chosen) - {choice.drug_id}
        for inter in interactions:
            pair = {inter.drug_a.local_id, inter.drug_b.local_id}
            if choice.drug_id in pair and pair & others:
                other = (pair - {choice.drug_id}).pop()
                message = inter.description or (
                    f"{choice.drug_name} interacts with {name_of(other) or other}."
                )
                warnings.append(
                    SafetyWarning(
                        kind="interaction",
                        severity="warning",
                        drug_id=choice.drug_id,
                        message=message,
                    )
                )
        warnings += vetoes
        if not vetoes:
            kept.append(choice)
    unique = list({(w.drug_id, w.message): w for w in warnings}.values())
    return recommendation.model_copy(update={"choices": kept}), unique
