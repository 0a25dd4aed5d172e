"""A candidate's feature vector: the one function the ranker's training and serving share.

:func:`candidate_features` turns what the agent's tools return about one candidate drug of
one condition (its :class:`~kedrec_agent.kg.evidence.CandidateDrug` and its literature
:class:`~kedrec_agent.literature.search.Hit` list), plus optional look-ups in the
knowledge graph and the bundle's drug-class tables, into the fixed, ordered vector named by
:data:`FEATURE_NAMES`. ``training/ranker.py`` builds its rows with this function and the
shipped :class:`~kedrec_agent.ranking.model.Ranker` checks that its artifact was trained on
exactly these names, so training and serving cannot drift apart.

The literature counts over the whole corpus (``lineage_*``, ``classmates_mentions``) come
from :func:`~kedrec_agent.ranking.literature.condition_literature`, computed once per
condition. Nothing here knows the gold answer or the split: every value is read off the evidence and
the (masked, where the caller masks it) graph. Optional inputs that are missing (no graph,
no literature, a bundle without ``safety/``) give 0 for the features that need them, never
an error.

The features (counts are ``log1p``-compressed where they are unbounded):

==========================  ==========================================================
``indication_edges``        log1p(indication edges of the pair shown: treats/palliates)
``indication_sources``      distinct relations among them (DrugBank, Hetionet CtD, CpD)
``indication_treats``       1 if one of them is a *treats* edge (not only palliates)
``mechanism_paths``         drug -> gene -> disease paths shown (at most paths_per_drug)
``mechanism_best``          the best path's score (0 to 1)
``other_indications``       log1p(diseases besides this one the drug is indicated for)
``related_best``            MeSH relatedness of its most related other indication (0-1)
``related_second``          the same for its second most related one
``related_close``           log1p(its other indications with relatedness >= 0.5)
``related_any``             log1p(its other indications with relatedness > 0)
``literature_mentions``     log1p(documents naming the drug with the condition:
                            ``CandidateDrug.mentions``, the agent's co-mention count)
``pair_passages``           shown passages naming both the drug and the condition (or a
                            DOID/MeSH equivalent), by their entity annotations
``pair_trials``             how many of those are ClinicalTrials.gov records
``drug_passages``           shown passages naming the drug
``passage_related_best``    best MeSH relatedness of a disease named by a passage that
                            names the drug (1.0 for the condition itself)
``pair_best_score``         the best search score of a pair passage
``lineage_mentions``        log1p(documents naming the drug with a MeSH ancestor or
                            descendant of the condition)
``lineage_related_best``    the best MeSH relatedness of such a heading
``drug_targets``            log1p(genes the drug acts on: targets, enzymes, transporters)
``interacting_drugs``       log1p(drugs it interacts with): how established a drug is
``has_class``               1 if the drug has an FDA class (EPC/MoA) or an ATC code
``classmates_related_best`` best relatedness to the condition of an indication of a drug
                            sharing a class with it (FDA EPC/MoA, ATC level 4)
``classmates_related``      log1p(class-mates with an indication of relatedness >= 0.5)
``classmates_mentions``     log1p(documents naming a class-mate with the condition)
``related_text_best``       best cosine (sentence embedding) of the condition's name
                            with the name of one of the drug's other visible indications
``related_text_second``     the same for the second best
``class_text_best``         best cosine of the condition's name with the name of one of
                            the drug's classes (FDA EPC / MoA, MeSH pharmacological
                            action: "Anticonvulsants" for epilepsy)
==========================  ==========================================================

Relatedness is :meth:`kedrec_agent.kg.hierarchy.DiseaseHierarchy.relation` (shared MeSH
tree depth); the ``*_text_*`` features are the softer relatedness of names in the
literature's sentence embedding (:class:`~kedrec_agent.ranking.semantic.NameSimilarity`;
0 without it), which also relates diseases in different MeSH trees and a disease with a
drug class. Indications of the condition itself never count as related ones, and a
class-mate's indication edge that the graph view masks is not used.

Example:
    >>> vector = candidate_features(candidate, hits, kg)  # doctest: +SKIP
    >>> dict(zip(FEATURE_NAMES, vector))["related_best"]  # doctest: +SKIP
    0.6
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from kedrec_agent.errors import KedrecError
from kedrec_agent.kg.evidence import CandidateDrug
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.kg.models import DrugIndication
from kedrec_agent.kg.relations import TREATS, categorize
from kedrec_agent.literature.search import Hit
from kedrec_agent.ranking.literature import ConditionLiterature
from kedrec_agent.ranking.semantic import NameSimilarity
from kedrec_agent.ranking.tables import DrugTables

FEATURES_VERSION = "ranker-features-3"
"""Changes whenever a feature's meaning changes (recorded in the artifact)."""

FEATURE_DOCS: dict[str, str] = {
    "indication_edges": "log1p(indication edges of the pair shown: treats / palliates)",
    "indication_sources": "distinct relations among them (DrugBank treats, Hetionet CtD, CpD)",
    "indication_treats": "1 if one of them is a treats edge (not only palliates)",
    "mechanism_paths": "drug -> gene -> disease paths shown (at most paths_per_drug)",
    "mechanism_best": "the best path's score (0 to 1)",
    "other_indications": "log1p(diseases besides this one the drug is indicated for)",
    "related_best": "MeSH relatedness of its most related other indication (0 to 1)",
    "related_second": "the same for its second most related other indication",
    "related_close": "log1p(its other indications with relatedness >= 0.5)",
    "related_any": "log1p(its other indications with relatedness > 0)",
    "literature_mentions": "log1p(documents naming the drug with the condition: the agent's "
    "co-mention count, CandidateDrug.mentions)",
    "pair_passages": "shown passages whose annotations name both the drug and the condition "
    "(or a DOID/MeSH equivalent)",
    "pair_trials": "how many of those are ClinicalTrials.gov records",
    "drug_passages": "shown passages naming the drug",
    "passage_related_best": "best MeSH relatedness to the condition of a disease named by a "
    "passage that names the drug (1 for the condition itself)",
    "pair_best_score": "the best search score of a pair passage",
    "lineage_mentions": "log1p(documents naming the drug with a MeSH ancestor or descendant of "
    "the condition)",
    "lineage_related_best": "the best MeSH relatedness of such a heading to the condition",
    "drug_targets": "log1p(genes the drug acts on: targets, enzymes, transporters, carriers)",
    "interacting_drugs": "log1p(drugs it interacts with): how established the drug is",
    "has_class": "1 if the drug has an FDA class (EPC / MoA) or an ATC code",
    "classmates_related_best": "best relatedness to the condition of a visible indication of "
    "a drug sharing a class with it (FDA EPC / MoA, ATC level 4)",
    "classmates_related": "log1p(class-mates with an indication of relatedness >= 0.5)",
    "classmates_mentions": "log1p(documents naming a class-mate with the condition)",
    "related_text_best": "best cosine (sentence embedding) of the condition's name with the "
    "name of one of the drug's other visible indications",
    "related_text_second": "the same for the second best",
    "class_text_best": "best cosine of the condition's name with the name of one of the drug's "
    "classes (FDA EPC / MoA, MeSH pharmacological action)",
}
"""What each feature is, in the vector's order."""

FEATURE_NAMES: tuple[str, ...] = tuple(FEATURE_DOCS)
"""The feature vector's names, in order (see the module docstring)."""

CLOSE = 0.5
"""Relatedness from which another disease counts as closely related."""


def candidate_features(
    candidate: CandidateDrug,
    hits: Sequence[Hit] = (),
    kg: KnowledgeGraph | None = None,
    *,
    tables: DrugTables | None = None,
    literature: ConditionLiterature | None = None,
    names: NameSimilarity | None = None,
) -> np.ndarray:
    """The feature vector of one candidate drug of one condition (:data:`FEATURE_NAMES`).

    Args:
        candidate: the candidate as the graph returned it (its indication edges, mechanism
            paths, related indications, ``other_indications`` and ``mentions``).
        hits: the literature passages found for the candidate and its condition.
        kg: the graph view the candidate was gathered from (with the same exclusions);
            used for the drug's full list of related indications, its genes and
            interactions, DOID/MeSH equivalents and the class-mates' indications.
            ``None``: those features come from the candidate alone or are 0.
        tables: drug classes (:meth:`DrugTables.from_settings`); ``None``: class
            features are 0.
        literature: the condition's corpus-wide counts
            (:func:`~kedrec_agent.ranking.literature.condition_literature`); ``None``: the
            features that need them are 0.
        names: the name similarity (:meth:`NameSimilarity.from_settings`); ``None``: the
            ``*_text_*`` features are 0.

    Returns:
        A float64 vector of ``len(FEATURE_NAMES)`` values.
    """
    drug = candidate.drug.local_id
    condition = candidate.condition
    relatedness = _Relatedness(kg, condition)
    values: dict[str, float] = {}

    relations = {edge.relation for edge in candidate.edges}
    values["indication_edges"] = math.log1p(len(candidate.edges))
    values["indication_sources"] = float(len(relations))
    values["indication_treats"] = float(any(categorize(r) == TREATS for r in relations))

    scores = [p.score for p in candidate.paths]
    values["mechanism_paths"] = float(len(scores))
    values["mechanism_best"] = max(scores, default=0.0)

    related = sorted(_related_scores(candidate, kg), reverse=True)
    values["other_indications"] = math.log1p(candidate.other_indications)
    values["related_best"] = related[0] if related else 0.0
    values["related_second"] = related[1] if len(related) > 1 else 0.0
    values["related_close"] = math.log1p(sum(s >= CLOSE for s in related))
    values["related_any"] = math.log1p(sum(s > 0 for s in related))

    values["literature_mentions"] = math.log1p(max(candidate.mentions, 0))
    naming = [h for h in hits if drug in h.drugs]
    pairs = [h for h in naming if relatedness.names_condition(h.diseases)]
    values["pair_passages"] = float(len(pairs))
    values["pair_trials"] = float(sum(h.source == "ctgov" for h in pairs))
    values["drug_passages"] = float(len(naming))
    values["passage_related_best"] = max(
        (relatedness.best(h.diseases) for h in naming), default=0.0
    )
    values["pair_best_score"] = max((h.score for h in pairs), default=0.0)
    corpus = literature or ConditionLiterature()
    values["lineage_mentions"] = math.log1p(corpus.lineage.get(drug, 0))
    values["lineage_related_best"] = corpus.lineage_best.get(drug, 0.0)

    targets, interacting = _drug_counts(kg, drug)
    values["drug_targets"] = math.log1p(targets)
    values["interacting_drugs"] = math.log1p(interacting)

    tables = tables or DrugTables()
    classmates = sorted(tables.classmates(drug))
    values["has_class"] = float(bool(tables.classes_of(drug)))
    mates = [_best_indication(kg, m, relatedness) for m in classmates] if kg is not None else []
    values["classmates_related_best"] = max(mates, default=0.0)
    values["classmates_related"] = math.log1p(sum(s >= CLOSE for s in mates))
    values["classmates_mentions"] = math.log1p(sum(corpus.mentions.get(m, 0) for m in classmates))

    condition_name = _condition_name(kg, condition) if names is not None else None
    if names is not None and condition_name:
        others = _other_indication_names(kg, candidate, relatedness)
        text = names.best(condition_name, others, k=2)
        classes = names.best(condition_name, tables.class_names.get(drug, ()), k=1)
    else:
        text, classes = [], []
    values["related_text_best"] = text[0] if text else 0.0
    values["related_text_second"] = text[1] if len(text) > 1 else 0.0
    values["class_text_best"] = classes[0] if classes else 0.0

    return np.array([values[name] for name in FEATURE_NAMES], dtype=np.float64)


def feature_dict(vector: Sequence[float] | np.ndarray) -> dict[str, float]:
    """``{name: value}`` of a feature vector (for explanations and tests)."""
    return dict(zip(FEATURE_NAMES, map(float, vector), strict=True))


# --- relatedness -----------------------------------------------------------------------------


class _Relatedness:
    """How related other diseases are to one condition (cached per call of the features)."""

    def __init__(self, kg: KnowledgeGraph | None, condition: str) -> None:
        self.kg = kg
        self.condition = condition
        self.own: frozenset[str] = frozenset({condition})
        if kg is not None:
            self.own |= kg.equivalences.concept(condition).equivalents
        self._scores: dict[str, float] = {}

    def names_condition(self, diseases: Iterable[str]) -> bool:
        """Whether any of ``diseases`` is the condition or a DOID/MeSH equivalent of it."""
        return any(self._canonical_in_own(d) for d in diseases)

    def _canonical_in_own(self, disease: str) -> bool:
        if disease in self.own:
            return True
        if self.kg is None:
            return False
        return self.kg.equivalences.canonical(disease) in self.own

    def score(self, disease: str) -> float:
        """Relatedness of ``disease`` to the condition (1.0: the condition itself)."""
        if disease not in self._scores:
            if self._canonical_in_own(disease):
                value = 1.0
            elif self.kg is None:
                value = 0.0
            else:
                other = self.kg.equivalences.concept(disease).equivalents
                value = self.kg.hierarchy.relation(self.own, other).score
            self._scores[disease] = value
        return self._scores[disease]

    def best(self, diseases: Iterable[str]) -> float:
        """The best :meth:`score` of ``diseases`` (0 when there is none)."""
        return max((self.score(d) for d in diseases), default=0.0)


def _related_scores(candidate: CandidateDrug, kg: KnowledgeGraph | None) -> list[float]:
    """The relatedness of each of the drug's other indications (the full list with a graph)."""
    if kg is not None:
        try:
            found = kg.related_indications(candidate.drug.local_id, candidate.condition)
            return [r.score for r in found]
        except KedrecError:
            pass
    return [r.score for r in candidate.related]


# --- per-drug look-ups, cached per store -----------------------------------------------------

_LOCK = threading.Lock()
_COUNTS: weakref.WeakKeyDictionary[Any, dict[str, tuple[int, int]]] = weakref.WeakKeyDictionary()
_INDICATIONS: weakref.WeakKeyDictionary[Any, dict[str, list[DrugIndication]]] = (
    weakref.WeakKeyDictionary()
)


def _per_store(cache: weakref.WeakKeyDictionary[Any, dict[str, Any]], kg: KnowledgeGraph) -> Any:
    with _LOCK:
        found = cache.get(kg.graph)
        if found is None:
            found = cache[kg.graph] = {}
        return found


def _drug_counts(kg: KnowledgeGraph | None, drug: str) -> tuple[int, int]:
    """(genes the drug acts on, drugs it interacts with); masking never changes them."""
    if kg is None:
        return 0, 0
    cache = _per_store(_COUNTS, kg)
    if drug not in cache:
        try:
            facts = kg.drug_facts(drug)
            cache[drug] = (len({g.gene.id for g in facts.genes}), facts.interacting_drugs)
        except KedrecError:
            return 0, 0
    result: tuple[int, int] = cache[drug]
    return result


def _indications(kg: KnowledgeGraph, drug: str) -> list[DrugIndication]:
    """The drug's indications in the unmasked store (cached); callers apply their masking."""
    cache = _per_store(_INDICATIONS, kg)
    if drug not in cache:
        unmasked = KnowledgeGraph(kg.graph, kg.equivalences, (), kg.hierarchy)
        try:
            cache[drug] = unmasked.drug_indications(drug)
        except KedrecError:
            return []
    rows: list[DrugIndication] = cache[drug]
    return rows


def _condition_name(kg: KnowledgeGraph | None, condition: str) -> str | None:
    if kg is None:
        return None
    try:
        return kg.disease_label(condition)
    except KedrecError:
        return None


def _other_indication_names(
    kg: KnowledgeGraph | None, candidate: CandidateDrug, relatedness: _Relatedness
) -> list[str]:
    """Names of the drug's visible indications of other diseases.

    Without a graph, the names of the candidate's own related indications.
    """
    if kg is None:
        return [r.disease.label for r in candidate.related if r.disease.label]
    rows = _other_indications(kg, candidate.drug.local_id, relatedness)
    return [r.disease.label for r in rows if r.disease.label]


def _best_indication(kg: KnowledgeGraph, drug: str, relatedness: _Relatedness) -> float:
    """Best relatedness to the condition of the drug's visible indications of *other* diseases.

    The condition's own indications are left out (as in
    :meth:`~kedrec_agent.kg.knowledge_graph.KnowledgeGraph.related_indications`), and so is
    any edge the view ``kg`` masks.
    """
    rows = _other_indications(kg, drug, relatedness)
    return max((relatedness.score(r.disease.local_id) for r in rows), default=0.0)


def _other_indications(
    kg: KnowledgeGraph, drug: str, relatedness: _Relatedness
) -> list[DrugIndication]:
    """The drug's indications that ``kg`` shows, of diseases other than the condition."""
    return [
        row
        for row in _indications(kg, drug)
        if not any(map(kg.exclusions.blocks, row.edges))
        and not relatedness.names_condition([row.disease.local_id])
    ]
