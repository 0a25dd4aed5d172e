"""Knowledge-graph evidence for one patient: candidate drugs, mechanism paths, interactions.

Example:
    >>> ev = gather_evidence(kg, ["MESH:D003924"], ["DB00682"])  # doctest: +SKIP
    >>> ev.candidates[0].drug.label  # doctest: +SKIP
    'Metformin'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from kedrec_agent.kg.knowledge_graph import MAX_INTERACTION_DRUGS, KnowledgeGraph
from kedrec_agent.kg.models import Edge, Entity, Interaction, MechanismPath, RelatedIndication

RELATED_SHOWN = 2
"""Related indications kept per candidate (the most related first)."""


class CandidateDrug(BaseModel):
    """A drug the graph proposes for one of the patient's conditions."""

    drug: Entity
    condition: str = Field(description="canonical disease id the drug is proposed for")
    via: Literal["indication", "mechanism"] = Field(
        description="a treats/palliates edge, or genes shared with the disease"
    )
    edges: list[Edge] = Field(default_factory=list)
    paths: list[MechanismPath] = Field(default_factory=list)
    related: list[RelatedIndication] = Field(
        default_factory=list, description="indications for the most related other diseases"
    )
    other_indications: int = Field(default=0, description="diseases besides this one it treats")
    already_taking: bool = False

    def add_related(self, kg: KnowledgeGraph) -> None:
        """Fill :attr:`related` and :attr:`other_indications` from the graph."""
        found = kg.related_indications(self.drug.local_id, self.condition)
        self.related = found[:RELATED_SHOWN]
        self.other_indications = len(found)


class KGEvidence(BaseModel):
    """All the graph says about a patient's conditions and medications."""

    candidates: list[CandidateDrug]
    interactions: list[Interaction]


def gather_evidence(
    kg: KnowledgeGraph,
    condition_ids: Sequence[str],
    medication_ids: Sequence[str],
    *,
    top_k: int = 5,
    paths_per_drug: int = 3,
) -> KGEvidence:
    """Collect the graph evidence for a patient's conditions and current medications.

    Candidates come per condition from indications (treats/palliates edges), else from genes
    shared with the disease; each gets its best drug -> gene -> disease paths, and the top
    ``top_k`` are kept by supporting edges, then mechanism evidence. Each kept candidate
    also gets its indications for the most related other diseases (MeSH trees).
    Interactions are checked among all kept candidates and current medications.
    """
    candidates: list[CandidateDrug] = []
    for condition in dict.fromkeys(condition_ids):
        by_drug: dict[str, CandidateDrug] = {}
        for row in kg.drugs_for_disease(condition):  # most supporting edges first
            if row.drug.id not in by_drug and len(by_drug) >= 2 * top_k:
                continue
            entry = by_drug.setdefault(
                row.drug.id, CandidateDrug(drug=row.drug, condition=condition, via="indication")
            )
            entry.edges.extend(row.edges)
        if not by_drug:
            for mech in kg.drugs_targeting_disease_genes(condition, top_k):
                by_drug[mech.drug.id] = CandidateDrug(
                    drug=mech.drug, condition=condition, via="mechanism"
                )
        for entry in by_drug.values():
            entry.paths = kg.mechanism_paths(entry.drug.local_id, condition, paths_per_drug)
            entry.already_taking = entry.drug.local_id in medication_ids
        # Rank: supporting edges, then mechanism (best path score, number of paths).
        ranked = sorted(
            by_drug.values(),
            key=lambda c: (
                -len(c.edges),
                -max((p.score for p in c.paths), default=0.0),
                -len(c.paths),
                c.drug.label or c.drug.id,
            ),
        )
        for entry in ranked[:top_k]:
            entry.add_related(kg)
            candidates.append(entry)
    drugs = list(dict.fromkeys([*medication_ids, *(c.drug.local_id for c in candidates)]))
    interactions = kg.interactions_among(drugs[:MAX_INTERACTION_DRUGS]) if len(drugs) > 1 else []
    return KGEvidence(candidates=candidates, interactions=interactions)


def evidence_for_candidates(
    kg: KnowledgeGraph,
    disease_id: str,
    drug_ids: Sequence[str],
    *,
    paths_per_drug: int = 3,
) -> KGEvidence:
    """The graph evidence for given candidate drugs of one disease (expRxRec-style tasks).

    Each drug gets the indication edges the graph shows for the pair (none when they are
    masked by the graph's exclusions), its best mechanism paths and its indications for
    the most related other diseases; interactions are checked among the candidates.
    Candidates keep the given order.
    """
    shown: dict[str, CandidateDrug] = {}
    for row in kg.drugs_for_disease(disease_id):
        if row.drug.local_id in drug_ids:
            entry = shown.setdefault(
                row.drug.local_id,
                CandidateDrug(drug=row.drug, condition=disease_id, via="indication"),
            )
            entry.edges.extend(row.edges)
    candidates = []
    for drug_id in dict.fromkeys(drug_ids):
        entry = shown.get(drug_id) or CandidateDrug(
            drug=Entity(id=f"Compound::{drug_id}", label=kg.drug_label(drug_id)),
            condition=disease_id,
            via="mechanism",
        )
        entry.paths = kg.mechanism_paths(drug_id, disease_id, paths_per_drug)
        entry.add_related(kg)
        candidates.append(entry)
    drugs = list(dict.fromkeys(drug_ids))[:MAX_INTERACTION_DRUGS]
    interactions = kg.interactions_among(drugs) if len(drugs) > 1 else []
    return KGEvidence(candidates=candidates, interactions=interactions)
