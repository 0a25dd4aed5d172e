"""The agent's nodes pointed at the tiny stores, with the model missing (shared by tests).

Without a model the reasoning step falls back to the evidence ranking, so answers are
deterministic and need no weights.
"""

from __future__ import annotations

import pytest

from kedrec_agent.agent import nodes
from kedrec_agent.config import Settings
from kedrec_agent.errors import ConfigError, StoreUnavailableError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import Linker
from kedrec_agent.safety.classes import DrugClasses


def no_model() -> None:
    """The reasoning model's loader when there is none."""
    raise ConfigError("no model in this test")


def no_literature() -> None:
    """The literature store's opener when Postgres is down."""
    raise StoreUnavailableError("Postgres at localhost:5432 is down")


def patch_agent(
    patch: pytest.MonkeyPatch,
    settings: Settings,
    linker: Linker,
    kg: KnowledgeGraph,
    *,
    literature: bool = False,
) -> None:
    """Point the nodes at ``linker`` and ``kg``; no model; literature down unless asked for."""
    classes = DrugClasses.from_settings(settings)
    patch.setattr(nodes, "get_linker", lambda: linker)
    patch.setattr(nodes, "knowledge_graph", lambda: kg)
    if not literature:
        patch.setattr(nodes, "literature_search", no_literature)
    patch.setattr(nodes, "load_model", no_model)
    patch.setattr(nodes, "data_version", lambda: "kg:test")
    patch.setattr(DrugClasses, "from_settings", classmethod(lambda cls: classes))
