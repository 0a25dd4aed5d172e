"""The DRKG knowledge graph: RDF store build, SPARQL templates, the LangChain tool.

:class:`KnowledgeGraph` and :class:`ExclusionSet` (:mod:`~kedrec_agent.kg.knowledge_graph`)
load on first use, so that importing a light module of this package
(:mod:`~kedrec_agent.kg.vocab`, :mod:`~kedrec_agent.kg.relations`) imports nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedrec_agent.kg.knowledge_graph import ExclusionSet, KnowledgeGraph

__all__ = ["ExclusionSet", "KnowledgeGraph"]


def __getattr__(name: str) -> Any:
    import importlib

    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("kedrec_agent.kg.knowledge_graph"), name)
    globals()[name] = value
    return value
