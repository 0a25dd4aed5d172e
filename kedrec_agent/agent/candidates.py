"""Which of the graph's candidates the reasoning model may choose from.

Left out before the model sees them, so that a safe alternative takes their place rather
than a warning: the candidates of a condition a current medication already treats (the
answer says so), drugs the patient takes, and drugs the patient is allergic to (directly or
by MeSH class).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kedrec_agent.kg.evidence import KGEvidence
from kedrec_agent.safety.checks import SafetyWarning, allergy_conflict
from kedrec_agent.safety.classes import DrugClasses


def usable_candidates(
    evidence: KGEvidence,
    allergies: Sequence[str],
    name_of: Callable[[str], str | None],
    classes: DrugClasses,
) -> tuple[KGEvidence, list[SafetyWarning]]:
    """The evidence with only the candidates the model may choose, and a veto per allergy.

    Args:
        evidence: the graph's evidence for the patient.
        allergies: allergen ids (DrugBank drugs or MeSH classes).
        name_of: display name of an id.
        classes: the MeSH drug classes.
    """
    treated = evidence.treated()
    kept, vetoes = [], {}
    for cand in evidence.candidates:
        drug = cand.drug.local_id
        if cand.condition in treated or cand.already_taking:
            continue
        name = cand.drug.label or drug
        conflict = next(
            (m for a in allergies if (m := allergy_conflict(drug, name, a, name_of, classes))),
            None,
        )
        if conflict is None:
            kept.append(cand)
        elif drug not in vetoes:
            vetoes[drug] = SafetyWarning(
                kind="allergy", severity="veto", drug_id=drug, message=conflict
            )
    usable = KGEvidence(candidates=kept, interactions=evidence.interactions, ranked=evidence.ranked)
    return usable, list(vetoes.values())
