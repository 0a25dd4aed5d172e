"""Knowledge-graph evidence for one patient: candidate drugs, mechanism paths, interactions.

Example:
    >>> ev = gather_evidence(kg, ["MESH:D003924"], ["DB00682"])  # doctest: +SKIP
    >>> ev.candidates[0].drug.label  # doctest: +SKIP
    'Metformin'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
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
    mentions: int = Field(
        default=0, description="documents of the literature naming the drug and the condition"
    )
    already_taking: bool = False
    established: bool = Field(
        default=False, description="it has an FDA established pharmacologic class (DrugCentral)"
    )
    preferred: bool = Field(
        default=False,
        description="guidelines prefer it for this patient where it is indicated (in "
        "pregnancy: labetalol, nifedipine or methyldopa for hypertension)",
    )
    typical: bool | None = Field(
        default=True,
        description="its ATC therapeutic group is common among the condition's indicated drugs "
        "(see mark_typical); False for an antiprotozoal among the antibacterials of pneumonia; "
        "None when it has no ATC code to tell by while the condition's other drugs do",
    )
    also_treats: list[str] = Field(
        default_factory=list,
        description="the patient's other conditions, not treated by a current medication, it "
        "has an indication edge for in a therapeutic group typical of them (canagliflozin "
        "proposed for type 2 diabetes also treats chronic kidney disease; sumatriptan, which "
        "DrugBank lists for epilepsy, does not treat it)",
    )

    def add_related(self, kg: KnowledgeGraph) -> None:
        """Fill :attr:`related` and :attr:`other_indications` from the graph."""
        found = kg.related_indications(self.drug.local_id, self.condition)
        self.related = found[:RELATED_SHOWN]
        self.other_indications = len(found)


class KGEvidence(BaseModel):
    """All the graph says about a patient's conditions and medications."""

    candidates: list[CandidateDrug]
    interactions: list[Interaction]
    ranked: bool = Field(
        default=False,
        description="True when the candidates are in the clinical order of candidate_order",
    )
    replace: list[str] = Field(
        default_factory=list,
        description="current medications to be replaced (a pregnant patient on an ACE "
        "inhibitor): they do not count as treating their condition, which gets options",
    )

    def treated(self) -> dict[str, list[str]]:
        """Per condition, the current medications indicated for it (their names).

        Those to :attr:`replace` are left out.
        """
        found: dict[str, list[str]] = {}
        for cand in self.candidates:
            if cand.already_taking and cand.edges and cand.drug.local_id not in self.replace:
                name = cand.drug.label or cand.drug.local_id
                found.setdefault(cand.condition, []).append(name)
        return found


def gather_evidence(
    kg: KnowledgeGraph,
    condition_ids: Sequence[str],
    medication_ids: Sequence[str],
    *,
    top_k: int = 5,
    paths_per_drug: int = 3,
    mentions: Mapping[str, Mapping[str, int]] | None = None,
    names: Mapping[str, str] | None = None,
    established: Collection[str] = frozenset(),
    groups: Callable[[str], Collection[str]] | None = None,
    set_aside: Callable[[str], bool] | None = None,
    preferred: Callable[[str, str], bool] | None = None,
) -> KGEvidence:
    """Collect the graph evidence for a patient's conditions and current medications.

    Candidates per condition: every drug with an indication edge (treats / palliates,
    across the condition's DOID/MeSH equivalents), plus the drugs acting on the most
    genes associated with it; each knows which of the patient's other conditions it is
    indicated for (``also_treats``), among those no current medication treats (prazosin,
    listed for COPD, gains nothing for a hypertensive patient whose COPD salbutamol treats)
    and where its therapeutic group is typical (:func:`mark_typical`: DrugBank lists
    penbutolol, a beta-blocker, for asthma, and sumatriptan for epilepsy).
    They are ranked by :func:`candidate_order`
    (independent sources of the indication, a typical therapeutic group, other conditions
    treated, established use, literature co-mentions, mechanism), first on the cheap
    signals to a shortlist of ``2 * top_k``, whose drug -> gene -> disease paths are then
    looked up, and ``top_k`` are kept. A drug that is a candidate for several conditions
    is kept for one (:func:`_homes`; its ``also_treats`` says which others it treats), so
    each condition gets ``top_k`` options of its own. Each kept candidate also gets its
    indications for the most related other diseases (MeSH trees).
    Interactions are checked among all kept candidates and current medications.

    Args:
        kg: the graph (with any evaluation exclusions).
        condition_ids: canonical disease ids of the patient.
        medication_ids: DrugBank ids the patient takes.
        top_k: candidates kept per condition.
        paths_per_drug: mechanism paths kept per candidate.
        mentions: per condition id, documents of the literature that name each drug and
            the condition (see ``LiteratureSearch.co_mentions``); none: not used.
        names: display names of the conditions (to find a current medication that treats
            one without a MeSH tree number, see :func:`treating_related`).
        established: drugs with an FDA established pharmacologic class (ordering).
        groups: a drug's ATC therapeutic groups (level 2, ``J01``), to mark the
            candidates of an unusual group for the condition (:func:`mark_typical`).
        set_aside: drugs that do not count toward ``top_k`` (contraindicated or to avoid
            for this patient, such as a topical retinoid in pregnancy): they are kept where
            they rank, with their warning, but safe options fill the ``top_k`` places.
        preferred: ``(drug, condition) ->`` whether guidelines prefer the drug for this
            patient's condition (in pregnancy): among the condition's indicated drugs it
            goes first (:func:`candidate_order`).
    """
    mentions = mentions or {}
    names = names or {}
    conditions = list(dict.fromkeys(condition_ids))
    indicated: dict[str, dict[str, CandidateDrug]] = {}
    for condition in conditions:
        by_drug = indicated[condition] = {}
        for row in kg.drugs_for_disease(condition):
            entry = by_drug.setdefault(
                row.drug.id, CandidateDrug(drug=row.drug, condition=condition, via="indication")
            )
            entry.edges.extend(row.edges)
    # Conditions a current medication already treats (directly, or a drug for a kind of it).
    related = {
        condition: treating_related(kg, condition, medication_ids, names.get(condition))
        for condition in conditions
    }
    treated = {
        condition
        for condition in conditions
        if related[condition]
        or any(c.drug.local_id in medication_ids for c in indicated[condition].values())
    }
    if groups is not None:
        for by_drug in indicated.values():
            mark_typical(list(by_drug.values()), groups)
    pools: dict[str, dict[str, CandidateDrug]] = {}
    for condition in conditions:
        by_drug = pools[condition] = dict(indicated[condition])
        for mech in kg.drugs_targeting_disease_genes(condition, top_k):
            by_drug.setdefault(
                mech.drug.id, CandidateDrug(drug=mech.drug, condition=condition, via="mechanism")
            )
        named = mentions.get(condition, {})
        for entry in by_drug.values():
            entry.also_treats = [
                other
                for other in conditions
                if other != condition
                and other not in treated
                and entry.drug.id in indicated[other]
                and indicated[other][entry.drug.id].typical is True
            ]
            entry.already_taking = entry.drug.local_id in medication_ids
            entry.established = entry.drug.local_id in established
            entry.preferred = preferred is not None and preferred(entry.drug.local_id, condition)
            entry.mentions = named.get(entry.drug.local_id, 0)
            entry.add_related(kg)
    home = _homes(pools)
    candidates: list[CandidateDrug] = []
    for condition, by_drug in pools.items():
        own = [c for c in by_drug.values() if home[c.drug.id] == condition]
        shortlist = _first(sorted(own, key=candidate_order), 2 * top_k, set_aside)
        for entry in shortlist:
            entry.paths = kg.mechanism_paths(entry.drug.local_id, condition, paths_per_drug)
        kept = _first(sorted(shortlist, key=candidate_order), top_k, set_aside)
        # A current medication that treats the condition is always kept: it answers it.
        kept += [c for c in by_drug.values() if c.already_taking and c.edges and c not in kept]
        taken = {c.drug.local_id for c in kept if c.already_taking and c.edges}
        kept += [c for c in related[condition] if c.drug.local_id not in taken]
        candidates += kept
    drugs = list(dict.fromkeys([*medication_ids, *(c.drug.local_id for c in candidates)]))
    interactions = kg.interactions_among(drugs[:MAX_INTERACTION_DRUGS]) if len(drugs) > 1 else []
    return KGEvidence(candidates=candidates, interactions=interactions, ranked=True)


def _first(
    ordered: Sequence[CandidateDrug], n: int, set_aside: Callable[[str], bool] | None
) -> list[CandidateDrug]:
    """The first ``n`` candidates not set aside, and at most ``n`` set-aside ones among them."""
    if set_aside is None:
        return list(ordered[:n])
    kept: list[CandidateDrug] = []
    safe = aside = 0
    for cand in ordered:
        if safe == n:
            break
        if not set_aside(cand.drug.local_id):
            kept.append(cand)
            safe += 1
        elif aside < n:
            kept.append(cand)
            aside += 1
    return kept


def treating_related(
    kg: KnowledgeGraph, condition: str, medication_ids: Sequence[str], name: str | None = None
) -> list[CandidateDrug]:
    """Current medications indicated for a kind of ``condition``, so treating it.

    A drug for a narrower MeSH heading (ferrous sulfate for iron-deficiency anaemia, for a
    patient's "anaemia") treats it; one for a broader heading does not (simvastatin is
    listed for "diabetes mellitus", for its cardiovascular risk, and does not treat type 2
    diabetes). A condition without a MeSH tree number (a heading newer than the bundle's
    trees, such as "essential hypertension") falls back on its ``name``: a drug for the
    disease its name ends with ("hypertension") treats it, MeSH top-level categories
    (``C04`` Neoplasms) excepted. Each is returned as an ``already_taking`` candidate with
    those edges, so the condition is answered as treated.
    """
    if not medication_ids:
        return []
    equivalents = kg.equivalences.concept(condition).equivalents
    related = kg.hierarchy.narrower(equivalents)
    has_tree = any(e in kg.hierarchy for e in equivalents)
    suffix = f" {name.strip().lower()}" if name and not has_tree else None

    def broader(label: str | None) -> bool:
        return bool(label and suffix and suffix.endswith(f" {label.lower()}"))

    if not related and suffix is None:
        return []
    found = []
    for medication in dict.fromkeys(medication_ids):
        rows = [
            row
            for row in kg.drug_indications(medication)
            if kg.equivalences.concept(row.disease.local_id).equivalents & related
            or (broader(row.disease.label) and not kg.hierarchy.is_category(row.disease.local_id))
        ]
        if rows:
            found.append(
                CandidateDrug(
                    drug=rows[0].drug,
                    condition=condition,
                    via="indication",
                    edges=[edge for row in rows for edge in row.edges],
                    already_taking=True,
                )
            )
    return found


TYPICAL_SHARE = 0.5
"""A therapeutic group is typical of a condition when it has at least this share of the
largest group's indicated drugs."""

MIN_GROUPED = 8
"""Fewer indicated drugs with an ATC code than this make no consensus: all are typical."""


def mark_typical(
    candidates: Sequence[CandidateDrug], groups: Callable[[str], Collection[str]]
) -> None:
    """Mark the indicated candidates whose ATC therapeutic group is unusual for the condition.

    The graph rolls indications up to broad headings: DrugBank lists atovaquone and
    pentamidine (for *Pneumocystis* pneumonia) and tofacitinib as treating "pneumonia",
    beside a dozen antibacterials. Counting the condition's indicated drugs per ATC level-2
    group (``J01`` antibacterials, ``P01`` antiprotozoals), a drug is typical when one of
    its groups has at least :data:`TYPICAL_SHARE` of the largest group's count. In a
    condition with under :data:`MIN_GROUPED` coded drugs every drug is typical. Otherwise a
    drug without an ATC code is marked unknown (``None``): it keeps its place among the
    typical ones, but earns no "one drug for two problems" credit, since nothing
    corroborates its edge (DrugBank lists lasmiditan and ubrogepant, migraine drugs
    without a code in the bundle, as treating epilepsy, among some thirty antiepileptics).
    Several groups can be typical (hypertension: C09, C07, C03, C02, C08).

    Args:
        candidates: one condition's candidates (the indicated ones are marked).
        groups: a drug id -> its ATC level-2 groups.
    """
    of = {c.drug.local_id: set(groups(c.drug.local_id)) for c in candidates if c.edges}
    coded = [g for g in of.values() if g]
    if len(coded) < MIN_GROUPED:
        return
    count = Counter(group for found in coded for group in found)
    floor = TYPICAL_SHARE * max(count.values())
    for cand in candidates:
        if cand.drug.local_id in of:
            found = of[cand.drug.local_id]
            cand.typical = max(count[g] for g in found) >= floor if found else None


def _homes(pools: Mapping[str, Mapping[str, CandidateDrug]]) -> dict[str, str]:
    """Per drug, the one condition it is proposed for: where it ranks best on its own.

    A drug that is a candidate for several of the patient's conditions is kept for the one
    where it stands highest in :func:`candidate_order` without counting the other
    conditions it treats (the earlier condition on a tie), among the conditions it has an
    indication edge for if any: a proton-pump inhibitor goes to Barrett's oesophagus
    rather than to systemic sclerosis, canagliflozin to chronic kidney disease rather than
    to type 2 diabetes's many drugs, and rifamycin stays with sepsis, where it is one of
    many indicated antibacterials, rather than go to dehydration as a mechanism candidate.
    The others do without it, so each condition gets options of its own.
    """
    best: dict[str, tuple[bool, int, int, str]] = {}
    for n, (condition, by_drug) in enumerate(pools.items()):
        alone = sorted(by_drug.values(), key=lambda c: _order(c, problems=False))
        for position, cand in enumerate(alone):
            rank = (not cand.edges, position, n)
            seen = best.get(cand.drug.id)
            if seen is None or rank < seen[:3]:
                best[cand.drug.id] = (*rank, condition)
    return {drug: condition for drug, (*_, condition) in best.items()}


def candidate_order(cand: CandidateDrug) -> tuple[float | str, ...]:
    """Sort key of a condition's candidates, best first; never the drug's name.

    An indicated drug guidelines prefer for the patient first (``preferred``: labetalol
    for a pregnant woman's hypertension); then independent sources of the indication
    (DrugBank, Hetionet's curated CtD / CpD),
    each of the patient's other conditions (not already treated by a current medication)
    an indicated drug of a typical group also treats counting as one more (one drug for
    two problems; not irbesartan, an
    antihypertensive DrugBank lists for type 2 diabetes, for a diabetic with
    hypertension: canagliflozin, listed by DrugBank alone for chronic
    kidney disease, goes with its two-source drugs for a patient who also has type 2
    diabetes; not lasmiditan, a migraine drug without an ATC code that DrugBank lists for
    epilepsy among its antiepileptics, for a patient with both: see :func:`mark_typical`);
    then a therapeutic group typical of the condition (:func:`mark_typical`: the
    antibacterials of pneumonia before its antiprotozoals; train vignettes unchanged, it
    acts on the broad headings that mix them); then the number of the patient's other
    conditions it treats again (among equals, the drug for two problems first); then an
    FDA established pharmacologic
    class (an approved drug in established use, over a supplement such as
    acetylcarnitine); then how many documents of the literature name
    the drug with the condition; then how many other diseases the drug treats; then the
    best mechanism path and the number of paths; the DrugBank id last, only so that the
    order is stable. Tuned on the 56 train-split PharmacotherapyDB diseases with an
    indicated candidate, top-1 disease-modifying drug: 64.3% with mechanism before other
    indications, 69.6% after, 73.2% with the FDA class (dev: 83.3%, 83.3%, 91.7%).
    """
    return _order(cand, problems=True)


def _order(cand: CandidateDrug, *, problems: bool) -> tuple[float | str, ...]:
    """:func:`candidate_order`'s key; ``problems=False`` ignores ``also_treats``."""
    sources = len({edge.relation for edge in cand.edges})
    others = len(cand.also_treats) if sources and problems and cand.typical is True else 0
    return (
        not (cand.preferred and sources),
        -(sources + others),
        cand.typical is False,
        -others,
        not cand.established,
        -cand.mentions,
        -cand.other_indications,
        -max((p.score for p in cand.paths), default=0.0),
        -len(cand.paths),
        cand.drug.local_id,
    )


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
