"""Evidence the graph gathered, as numbered items the reasoning model can cite.

KG indication edges come first (priority 3, as does a candidate's indication for another
of the patient's conditions), then the candidate's indications for related
diseases (2 + 0.9 x MeSH relatedness + up to 0.1 for its number of known indications),
mechanism paths (2 + path score), then literature passages (1 + search score). Item ids
are ``E1``, ``E2``…, stable for a given input, so answers and traces can be checked
against them. :data:`EVIDENCE_VERSION` changes whenever what is gathered or how it is
worded changes (evaluation caches and traces record it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from kedrec_agent.kg.evidence import CandidateDrug, KGEvidence
from kedrec_agent.kg.models import Edge, Entity
from kedrec_agent.literature.search import Hit
from kedrec_agent.reasoning.schema import Candidate, Evidence, PatientView, ReasoningTask
from kedrec_agent.safety.severity import Level

EVIDENCE_VERSION = "evidence-v4"
"""v2: indications of each candidate for related diseases (MeSH trees); v3: their count
is worded as indications for *other* diseases (v2 said "in all"); v4: a candidate's
indications for the patient's other conditions ("also indicated for ...")."""


def _label(entity: Entity) -> str:
    return entity.label or entity.local_id


def _relation(edge: Edge) -> str:
    """``treats`` of ``DRUGBANK::treats::Compound:Disease``, in words."""
    name = edge.relation.split("::")[1] if "::" in edge.relation else edge.relation
    return name.replace("_", " ")


def related_item(cand: CandidateDrug, condition: str) -> tuple[str, float] | None:
    """The text and priority of a candidate's related-indications item (``None``: none)."""
    if not cand.other_indications:
        return None
    drug = _label(cand.drug)
    count = cand.other_indications
    bonus = min(count, 20) / 200  # an established drug ranks a little higher
    best = cand.related[0]
    if best.score <= 0:
        examples = ", ".join(_label(r.disease) for r in cand.related)
        text = (
            f"{drug} has {count} known indication(s) for other diseases, none related to "
            f"{condition} in MeSH (e.g. {examples})."
        )
        return text, 2.0 + bonus
    shared = f" (both under {best.ancestor} in MeSH)" if best.ancestor else ""
    text = f"{drug} is indicated for {_label(best.disease)}, related to {condition}{shared}"
    others = [_label(r.disease) for r in cand.related[1:] if r.score > 0]
    text += f", and for {others[0]}" if others else ""
    text += f"; {count} known indication(s) for other diseases."
    return text, 2.0 + 0.9 * best.score + bonus


def pair_passages(
    hits: Mapping[str, Sequence[Hit]], kg: KGEvidence, same: Callable[[str, str], bool]
) -> dict[str, list[Hit]]:
    """Per candidate, only the passages about it *and* its condition.

    A passage is evidence for (drug, condition) when its entity annotations name the drug
    and the condition (or an equivalent, by ``same``); one naming only the drug says
    nothing about the pair, and is not shown.

    Args:
        hits: the passages found per candidate DrugBank id.
        kg: the candidates (each with the condition it is proposed for).
        same: whether a disease id a passage names is the candidate's condition (its
            DOID/MeSH equivalents count).
    """
    conditions: dict[str, list[str]] = {}
    for cand in kg.candidates:
        conditions.setdefault(cand.drug.local_id, []).append(cand.condition)
    return {
        drug: [
            h
            for h in found
            if drug in h.drugs
            and any(same(d, c) for d in h.diseases for c in conditions.get(drug, ()))
        ]
        for drug, found in hits.items()
    }


def reasoning_task(
    patient: PatientView,
    kg: KGEvidence,
    literature: Mapping[str, Sequence[Hit]],
    names: Mapping[str, str],
    max_choices: int = 3,
    interacting: Mapping[str, Level] | None = None,
    probabilities: Mapping[str, Mapping[str, float]] | None = None,
    cautions: Mapping[str, str] | None = None,
    classes: Mapping[str, Sequence[str]] | None = None,
) -> ReasoningTask:
    """The reasoning model's input for one patient.

    Args:
        patient: the linked patient, as labels.
        kg: candidates with their edges and paths (drugs already taken are left out).
        literature: hits per candidate DrugBank id.
        names: display names of condition ids.
        max_choices: how many drugs the answer may choose.
        interacting: each candidate's most severe interaction with a current medication.
        probabilities: per condition id, the learned ranker's probability of each of its
            candidates (:func:`kedrec_agent.agent.scoring.rank_candidates`).
        cautions: per candidate, why an alternative should go first (e.g. a cephalosporin
            for a penicillin-allergic patient).
        classes: per candidate, its pharmacologic classes (see ``Candidate.classes``).
    """
    cautions = cautions or {}
    interacting = interacting or {}
    probabilities = probabilities or {}
    candidates: list[Candidate] = []
    found: list[tuple[Literal["kg", "literature"], str, str, float, str | None]] = []
    for cand in kg.candidates:
        drug_id = cand.drug.local_id
        if cand.already_taking or drug_id in {c.id for c in candidates}:
            continue
        drug = _label(cand.drug)
        condition = names.get(cand.condition, cand.condition)
        candidates.append(
            Candidate(
                id=drug_id,
                name=drug,
                interaction=interacting.get(drug_id),
                condition=cand.condition,
                rank=len(candidates) if kg.ranked else None,
                indicated=bool(cand.edges),
                caution=cautions.get(drug_id),
                classes=list((classes or {}).get(drug_id, ())),
                probability=probabilities.get(cand.condition, {}).get(drug_id),
            )
        )
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
        if also := [names.get(c, c) for c in cand.also_treats]:
            text = f"{drug} is also indicated for {' and '.join(also)}, which the patient has."
            found.append(("kg", drug_id, text, 3.0, None))
        if (related := related_item(cand, condition)) is not None:
            found.append(("kg", drug_id, related[0], related[1], None))
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
