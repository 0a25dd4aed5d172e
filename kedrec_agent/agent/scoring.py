"""The learned ranker's probabilities for the candidates the model may choose.

The ranker was trained on groups of one right drug among hard negatives, in two forms: the
right drug's indication edge hidden (repurposing) or shown (a known indication). Each
candidate is scored in a group of that shape, from the same evidence the ranker was
trained on (the candidates as the graph returned them, every passage the literature node
found for them, the condition's corpus-wide co-mention counts):

* a candidate **without** an indication edge for its condition, among the condition's
  other such candidates: the probability that it is the right one among them;
* a candidate **with** one, against those same candidates without: the probability that
  it, rather than any of them, is the condition's drug. Several indicated drugs are not
  scored against each other: the ranker never learned to tell established treatments
  apart (the graph's clinical order does that, :func:`kedrec_agent.kg.evidence.
  candidate_order`).

A group of one is certain by construction; its probability is capped at
:data:`MAX_PROBABILITY`. The probabilities are the evidence score each recommended drug
shows and make the answer's confidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kedrec_agent.kg.evidence import CandidateDrug, KGEvidence
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.literature.search import Hit
from kedrec_agent.ranking.features import candidate_features
from kedrec_agent.ranking.literature import CoMentions, ConditionLiterature, condition_literature
from kedrec_agent.ranking.model import Ranker
from kedrec_agent.ranking.semantic import NameSimilarity
from kedrec_agent.ranking.tables import DrugTables

MAX_PROBABILITY = 0.99
"""The highest probability shown: the ranker is never certain."""

Probabilities = dict[str, dict[str, float]]
"""Per condition id, ``{DrugBank id: probability}`` of its candidates (see the module)."""


def _by_condition(candidates: Sequence[CandidateDrug]) -> dict[str, list[CandidateDrug]]:
    groups: dict[str, list[CandidateDrug]] = {}
    for cand in candidates:
        if not cand.already_taking:
            groups.setdefault(cand.condition, []).append(cand)
    return groups


def rank_candidates(
    ranker: Ranker,
    evidence: KGEvidence,
    hits: Mapping[str, Sequence[Hit]],
    kg: KnowledgeGraph | None,
    tables: DrugTables,
    search: CoMentions | None,
    names: NameSimilarity | None = None,
) -> Probabilities:
    """Each condition's candidates with the ranker's calibrated probabilities.

    Args:
        ranker: the learned ranker.
        evidence: the candidates the model may choose (drugs already taken are skipped).
        hits: the literature passages found per candidate DrugBank id (all of them, as at
            training, not only those shown).
        kg: the graph view the candidates were gathered from (with any exclusions).
        tables: the drug-class tables.
        search: the literature's co-mention counts (``None``: the literature is off or
            down; those features are 0, as the ranker was trained to expect).
        names: the name similarity (``None``: the embedding model is missing; its
            features are 0).

    Raises:
        StoreUnavailableError: the literature store failed while counting co-mentions.
    """
    found: Probabilities = {}
    for condition, group in _by_condition(evidence.candidates).items():
        context = (
            condition_literature(search, kg, condition)
            if search is not None and kg is not None
            else ConditionLiterature()
        )
        features = {
            c.drug.local_id: candidate_features(
                c, hits.get(c.drug.local_id, ()), kg, tables=tables, literature=context, names=names
            )
            for c in group
        }
        indicated = [c.drug.local_id for c in group if c.edges]
        others = [c.drug.local_id for c in group if not c.edges]
        scored: dict[str, float] = {}
        if others:
            probs = ranker.probabilities(np.vstack([features[d] for d in others]))
            scored.update(zip(others, map(float, probs), strict=True))
        for drug in indicated:
            rows = np.vstack([features[drug], *(features[d] for d in others)])
            scored[drug] = float(ranker.probabilities(rows)[0])
        found[condition] = {d: round(min(p, MAX_PROBABILITY), 4) for d, p in scored.items()}
    return found
