"""Evidence the graph gathered, as numbered items the reasoning model can cite.

KG indication edges come first (priority 3), then mechanism paths (2 + path score), then
literature passages (1 + search score). Item ids are ``E1``, ``E2``…, stable for a given
input, so answers and traces can be checked against them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kedrec_agent.kg.evidence import KGEvidence
from kedrec_agent.kg.models import Entity
from kedrec_agent.literature.search import Hit
from kedrec_agent.reasoning.schema import Candidate, Evidence, PatientSummary, ReasoningTask


def _label(entity: Entity) -> str:
    return entity.label or entity.local_id


def reasoning_task(
    patient: PatientSummary,
    kg: KGEvidence,
    literature: Mapping[str, Sequence[Hit]],
    names: Mapping[str, str],
    max_choices: int = 3,
) -> ReasoningTask:
    """The reasoning model's input for one patient.

    Args:
        patient: the linked patient, as labels.
        kg: candidates with their edges and paths (drugs already taken are left out).
        literature: hits per candidate DrugBank id.
        names: display names of condition ids.
        max_choices: how many drugs the answer may choose.
    """
    candidates: list[Candidate] = []
    items: list[Evidence] = []
    for cand in kg.candidates:
        drug_id = cand.drug.local_id
        if cand.already_taking or drug_id in {c.id for c in candidates}:
            continue
        drug = _label(cand.drug)
        condition = names.get(cand.condition, cand.condition)
        candidates.append(Candidate(id=drug_id, name=drug))
        for edge in cand.edges:
            relation = edge.relation.split("::")[1] if "::" in edge.relation else edge.relation
            items.append(
                Evidence(
                    id="",
                    kind="kg",
                    text=f"{drug} {relation.replace('_', ' ')} {condition} ({edge.relation}).",
                    drugs=[drug_id],
                    priority=3.0,
                )
            )
        for path in cand.paths:
            items.append(
                Evidence(
                    id="",
                    kind="kg",
                    text=(
                        f"{drug} acts on the gene {_label(path.gene)}, which is associated "
                        f"with {_label(path.disease)} (path score {path.score:.2f})."
                    ),
                    drugs=[drug_id],
                    priority=2.0 + path.score,
                )
            )
        for hit in literature.get(drug_id, ()):
            title = f"{hit.title}: " if hit.title else ""
            items.append(
                Evidence(
                    id="",
                    kind="literature",
                    citation=hit.citation,
                    text=f"{title}{hit.snippet}",
                    drugs=[drug_id],
                    priority=1.0 + hit.score,
                )
            )
    for number, item in enumerate(items, start=1):
        item.id = f"E{number}"
    return ReasoningTask(
        patient=patient, candidates=candidates, evidence=items, max_choices=max_choices
    )
