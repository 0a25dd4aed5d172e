"""Evidence the graph gathered, as numbered items the reasoning model can cite.

KG indication edges come first (priority 3), then mechanism paths (2 + path score), then
literature passages (1 + search score). Item ids are ``E1``, ``E2``…, stable for a given
input, so answers and traces can be checked against them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from kedrec_agent.kg.evidence import KGEvidence
from kedrec_agent.kg.models import Edge, Entity
from kedrec_agent.literature.search import Hit
from kedrec_agent.reasoning.schema import Candidate, Evidence, PatientSummary, ReasoningTask


def _label(entity: Entity) -> str:
    return entity.label or entity.local_id


def _relation(edge: Edge) -> str:
    """``treats`` of ``DRUGBANK::treats::Compound:Disease``, in words."""
    name = edge.relation.split("::")[1] if "::" in edge.relation else edge.relation
    return name.replace("_", " ")


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
    found: list[tuple[Literal["kg", "literature"], str, str, float, str | None]] = []
    for cand in kg.candidates:
        drug_id = cand.drug.local_id
        if cand.already_taking or drug_id in {c.id for c in candidates}:
            continue
        drug = _label(cand.drug)
        condition = names.get(cand.condition, cand.condition)
        candidates.append(Candidate(id=drug_id, name=drug))
        found += [
            ("kg", drug_id, f"{drug} {_relation(e)} {condition} ({e.relation}).", 3.0, None)
            for e in cand.edges
        ]
        found += [
            (
                "kg",
                drug_id,
                f"{drug} acts on the gene {_label(p.gene)}, which is associated with "
                f"{_label(p.disease)} (path score {p.score:.2f}).",
                2.0 + p.score,
                None,
            )
            for p in cand.paths
        ]
        found += [
            ("literature", drug_id, f"{h.title}: {h.snippet}" if h.title else h.snippet,
             1.0 + h.score, h.citation)
            for h in literature.get(drug_id, ())
        ]  # fmt: skip
    items = [
        Evidence(id=f"E{n}", kind=kind, drugs=[drug_id], text=text, priority=priority,
                 citation=citation)
        for n, (kind, drug_id, text, priority, citation) in enumerate(found, start=1)
    ]  # fmt: skip
    return ReasoningTask(
        patient=patient, candidates=candidates, evidence=items, max_choices=max_choices
    )
