"""Evidence the graph gathered, as numbered items the reasoning model can cite.

KG indication edges come first (priority 3, as does a candidate's indication for another
of the patient's conditions), then the candidate's indications for related
diseases (2 + 0.9 x MeSH relatedness + up to 0.1 for its number of known indications),
mechanism paths (2 + path score: what the drug does to a gene, and how the gene relates to
the disease), then literature passages (1 + search score), then the candidate's
pharmacologic classes (0.5). Item ids
are ``E1``, ``E2``…, stable for a given input, so answers and traces can be checked
against them. :data:`EVIDENCE_VERSION` changes whenever what is gathered or how it is
worded changes (evaluation caches and traces record it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kedrec_agent.kg.evidence import CandidateDrug, KGEvidence
from kedrec_agent.kg.models import Edge, Entity, MechanismPath
from kedrec_agent.kg.relations import gene_role, parse_relation
from kedrec_agent.literature.search import Hit
from kedrec_agent.ranking.tables import DrugTables
from kedrec_agent.reasoning.schema import Candidate, Evidence, PatientView, ReasoningTask, Topic
from kedrec_agent.safety.comorbidity import Caution
from kedrec_agent.safety.severity import Level

EVIDENCE_VERSION = "evidence-v5"
"""v2: indications of each candidate for related diseases (MeSH trees); v3: their count
is worded as indications for *other* diseases (v2 said "in all"); v4: a candidate's
indications for the patient's other conditions ("also indicated for ..."); v5: mechanism
paths say what the drug does to the gene (DGIdb action, or target / metabolised by) and
how the gene relates to the disease, and each candidate gets its pharmacologic classes
(FDA EPC and MoA, ATC)."""

DECREASES = frozenset({"INHIBITOR", "ANTAGONIST", "BLOCKER", "CHANNEL BLOCKER"})
INCREASES = frozenset({"AGONIST", "PARTIAL AGONIST", "ACTIVATOR", "POSITIVE ALLOSTERIC MODULATOR"})
"""DGIdb interaction types that lower / raise the gene product's activity."""

GENE_VERBS = {
    "target": "targets",
    "enzyme": "is metabolised by",
    "transporter": "is transported by",
    "carrier": "is carried by",
}
"""DrugBank's drug-gene roles in words, when DGIdb says nothing more: an enzyme or a
transporter acts on the drug, not the drug on it."""

DISEASE_VERBS = {
    "DaG": "is associated with",
    "DuG": "is up-regulated in",
    "DdG": "is down-regulated in",
}
"""Hetionet's disease-gene relations in words."""

CLASS_PRIORITY = 0.5
"""A candidate's pharmacologic class item: context, below any passage about the pair."""


def _label(entity: Entity) -> str:
    return entity.label or entity.local_id


def _relation(edge: Edge) -> str:
    """``treats`` of ``DRUGBANK::treats::Compound:Disease``, in words."""
    name = edge.relation.split("::")[1] if "::" in edge.relation else edge.relation
    return name.replace("_", " ")


def drug_gene_verb(path: MechanismPath) -> str:
    """What the drug does to the path's gene, in words (DrugMechDB's "decreases activity of")."""
    actions = set(path.actions)
    if actions and actions <= DECREASES:
        return "decreases activity of"
    if actions and actions <= INCREASES:
        return "increases activity of"
    if actions:
        return "binds" if actions <= {"BINDER", "ANTIBODY"} else "modulates"
    role = gene_role(path.edges[0].relation) if path.edges else ""
    return GENE_VERBS.get(role, "interacts with")


def path_topic(path: MechanismPath) -> Topic:
    """``kinetics`` for a path through an enzyme, transporter or carrier, else ``mechanism``.

    An enzyme or transporter handles the drug; it is not what the drug acts on.
    """
    kinetic = set(GENE_VERBS.values()) - {GENE_VERBS["target"]}
    return "kinetics" if drug_gene_verb(path) in kinetic else "mechanism"


def mechanism_item(path: MechanismPath, drug: str) -> str:
    """A drug -> gene -> disease path as a sentence citing both edges' relations.

    Example: "Pioglitazone increases activity of PPARG (DRUGBANK::target::Compound:Gene);
    PPARG is associated with type 2 diabetes mellitus (Hetionet::DaG::Disease:Gene)."
    """
    gene, disease = _label(path.gene), _label(path.disease)
    first, second = (f" ({e.relation})" for e in path.edges) if len(path.edges) == 2 else ("", "")
    name = parse_relation(path.edges[-1].relation)[1] if path.edges else ""
    joins = DISEASE_VERBS.get(name, "is linked to")
    return f"{drug} {drug_gene_verb(path)} {gene}{first}; {gene} {joins} {disease}{second}."


def class_item(drug_id: str, drug: str, tables: DrugTables) -> str | None:
    """The drug's pharmacologic classes in a sentence (``None``: the tables have none)."""
    found = tables.pharmacology(drug_id)
    parts = []
    if epc := found.get("EPC"):
        parts.append(f"pharmacologic class {', '.join(epc)} (FDA EPC)")
    if moa := found.get("MoA"):
        parts.append(f"mechanism of action {', '.join(moa)} (FDA MoA)")
    if atc := found.get("ATC"):
        parts.append(f"ATC {', '.join(atc)}")
    return f"{drug}: {'; '.join(parts)}." if parts else None


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
    cautions: Mapping[str, Caution] | None = None,
    classes: Mapping[str, Sequence[str]] | None = None,
    tables: DrugTables | None = None,
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
        tables: the drugs' named classes, each candidate's class item (default: the data
            bundle's, :meth:`DrugTables.from_settings`; empty tables: no class items).
    """
    tables = tables if tables is not None else DrugTables.from_settings()
    cautions = cautions or {}
    interacting = interacting or {}
    probabilities = probabilities or {}
    candidates: list[Candidate] = []
    found: list[tuple[Topic, str, str, float, str | None]] = []
    for cand in kg.candidates:
        drug_id = cand.drug.local_id
        if cand.already_taking or drug_id in {c.id for c in candidates}:
            continue
        drug = _label(cand.drug)
        condition = names.get(cand.condition, cand.condition)
        caution = cautions.get(drug_id)
        candidates.append(
            Candidate(
                id=drug_id,
                name=drug,
                interaction=interacting.get(drug_id),
                condition=cand.condition,
                rank=len(candidates) if kg.ranked else None,
                indicated=bool(cand.edges),
                caution=caution.message if caution else None,
                caution_strength="weak" if caution and not caution.strong else "strong",
                classes=list((classes or {}).get(drug_id, ())),
                probability=probabilities.get(cand.condition, {}).get(drug_id),
            )
        )
        found += [
            ("indication", drug_id, f"{drug} {_relation(e)} {condition} ({e.relation}).", 3.0, None)
            for e in cand.edges
        ]
        found += [
            (path_topic(p), drug_id, mechanism_item(p, drug), 2.0 + p.score, None)
            for p in cand.paths
        ]
        if (described := class_item(drug_id, drug, tables)) is not None:
            found.append(("class", drug_id, described, CLASS_PRIORITY, None))
        if also := [names.get(c, c) for c in cand.also_treats]:
            text = f"{drug} is also indicated for {' and '.join(also)}, which the patient has."
            found.append(("indication", drug_id, text, 3.0, None))
        if (related := related_item(cand, condition)) is not None:
            found.append(("related", drug_id, related[0], related[1], None))
        found += [
            ("literature", drug_id, f"{h.title}: {h.snippet}" if h.title else h.snippet,
             1.0 + h.score, h.citation)
            for h in literature.get(drug_id, ())
        ]  # fmt: skip
    items = [
        Evidence(id=f"E{n}", kind="literature" if topic == "literature" else "kg",
                 drugs=[drug_id], text=text, priority=priority, citation=citation, topic=topic)
        for n, (topic, drug_id, text, priority, citation) in enumerate(found, start=1)
    ]  # fmt: skip
    return ReasoningTask(
        patient=patient, candidates=candidates, evidence=items, max_choices=max_choices
    )
