"""Services for tests: the tiny stores, with the model missing and the literature down.

Without a model the reasoning step falls back to the evidence ranking, so answers are
deterministic and need no weights.
"""

from __future__ import annotations

from kedrec_agent.config import Settings
from kedrec_agent.errors import ConfigError, StoreUnavailableError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import Linker
from kedrec_agent.literature.search import LiteratureSearch
from kedrec_agent.safety.classes import DrugClasses
from kedrec_agent.services import Services


def no_model() -> ConfigError:
    """The reasoning model's failure when there is none."""
    return ConfigError("no model in this test")


def literature_down() -> StoreUnavailableError:
    """The literature store's failure when Postgres is down."""
    return StoreUnavailableError("Postgres at localhost:5432 is down")


def tiny_services(
    settings: Settings,
    linker: Linker,
    kg: KnowledgeGraph,
    *,
    literature: LiteratureSearch | Exception | None = None,
) -> Services:
    """``linker`` and ``kg``; no model; literature down unless a search is given."""
    return Services(
        settings,
        linker=linker,
        kg=kg,
        literature=literature or literature_down(),
        model=no_model(),
        drug_classes=DrugClasses.from_settings(settings),
        data_version="kg:test",
    )
