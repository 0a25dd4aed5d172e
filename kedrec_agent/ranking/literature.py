"""What the literature says about a condition as a whole, for every drug at once.

Two aggregate counts over the passages' entity annotations (no text search, ~5 ms a
disease): the documents naming each drug with the condition (or a DOID/MeSH equivalent),
and with a MeSH ancestor or descendant of it (the most related first, at most
:data:`LINEAGE_LIMIT` headings). The ranker's features read them for a candidate and for
the drugs that share a class with it. The literature is never masked by the evaluation
protocol (a clinician would find these documents too), so these counts are the same at
training, evaluation and serving.

Example:
    >>> found = condition_literature(search, kg, "MESH:D015464")  # doctest: +SKIP
    >>> found.mentions["DB00619"]  # doctest: +SKIP
    12
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kedrec_agent.errors import UnknownEntityError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph

LINEAGE_LIMIT = 40
"""MeSH ancestors / descendants of a condition whose co-mentions are counted, closest first."""


class CoMentions(Protocol):
    """Anything with :meth:`kedrec_agent.literature.search.LiteratureSearch.co_mentions`."""

    def co_mentions(self, disease: str) -> dict[str, int]:
        """Documents naming each drug together with ``disease`` (or an equivalent)."""
        ...


@dataclass(frozen=True)
class ConditionLiterature:
    """Per drug: documents naming it with the condition, and with its MeSH lineage.

    Attributes:
        mentions: documents naming the drug with the condition (or an equivalent id).
        lineage: documents naming the drug with a MeSH ancestor or descendant of it
            (summed over those headings).
        lineage_best: the best MeSH relatedness of such a heading to the condition.
    """

    mentions: Mapping[str, int] = field(default_factory=dict)
    lineage: Mapping[str, int] = field(default_factory=dict)
    lineage_best: Mapping[str, float] = field(default_factory=dict)


def _counts(search: CoMentions, disease: str) -> dict[str, int]:
    try:
        return search.co_mentions(disease)
    except UnknownEntityError:
        return {}


def condition_literature(
    search: CoMentions, kg: KnowledgeGraph, condition: str, *, limit: int = LINEAGE_LIMIT
) -> ConditionLiterature:
    """Count the documents that name each drug with ``condition`` and with its MeSH lineage.

    Args:
        search: the literature search (its ``co_mentions``).
        kg: the graph (its DOID/MeSH equivalences and MeSH hierarchy).
        condition: the condition's canonical id.
        limit: lineage headings counted, the most related first.

    Raises:
        StoreUnavailableError: the literature store cannot be queried.
    """
    own = kg.equivalences.concept(condition).equivalents
    scored = sorted(
        ((kg.hierarchy.relation(own, other).score, other) for other in kg.hierarchy.lineage(own)),
        key=lambda pair: (-pair[0], pair[1]),
    )
    lineage: dict[str, int] = {}
    best: dict[str, float] = {}
    for score, other in scored[:limit]:
        for drug, count in _counts(search, other).items():
            lineage[drug] = lineage.get(drug, 0) + count
            best[drug] = max(best.get(drug, 0.0), score)
    return ConditionLiterature(_counts(search, condition), lineage, best)
