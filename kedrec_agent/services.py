"""The stores and the model a graph uses, handed to it as one object.

Each service opens from the settings on first use and is kept for the process; a failed
open raises and is tried again on the next use. A test or a user swaps one object:
pass ready instances (or an exception, for a service that is down) to :class:`Services`
and the graph to ``build_graph(services=...)``.

Example:
    >>> from kedrec_agent.errors import ConfigError
    >>> services = Services(model=ConfigError("no model on this machine"))
    >>> services.model()
    Traceback (most recent call last):
    ...
    kedrec_agent.errors.ConfigError: no model on this machine
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

from kedrec_agent.config import Settings, get_settings

if TYPE_CHECKING:
    from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
    from kedrec_agent.linking.linker import Linker
    from kedrec_agent.literature.search import LiteratureSearch
    from kedrec_agent.ranking.model import Ranker
    from kedrec_agent.ranking.semantic import NameSimilarity
    from kedrec_agent.ranking.tables import DrugTables
    from kedrec_agent.reasoning.backends import Backend
    from kedrec_agent.reasoning.runtime import ReasoningModel
    from kedrec_agent.safety.classes import DrugClasses
    from kedrec_agent.safety.comorbidity import SideEffects
    from kedrec_agent.safety.severity import SeverityTable

T = TypeVar("T")


class Services:
    """The linker, knowledge graph, literature search, ranker, reasoning model, drug tables.

    Args:
        settings: where the services open from (default: the environment's settings).
        linker: the entity linker.
        kg: the knowledge graph.
        literature: the literature search.
        model: the reasoning model (local).
        backend: where the reasoning model runs (default: the local model's backend, or
            the ``KEDREC_REASONER_BACKEND=openai`` server).
        ranker: the learned candidate ranker.
        drug_tables: the pharmacologic classes and ATC codes of drugs (the ranker's).
        drug_classes: the MeSH drug classes (allergy cross-checks).
        severities: the drug-drug interaction severities.
        data_version: the data version recorded in answers.

    Each service argument is a ready instance, an exception (the service is unavailable:
    using it raises that exception), or None (opened from ``settings`` on first use).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        linker: Linker | Exception | None = None,
        kg: KnowledgeGraph | Exception | None = None,
        literature: LiteratureSearch | Exception | None = None,
        model: ReasoningModel | Exception | None = None,
        backend: Backend | Exception | None = None,
        ranker: Ranker | Exception | None = None,
        drug_tables: DrugTables | Exception | None = None,
        drug_classes: DrugClasses | Exception | None = None,
        severities: SeverityTable | Exception | None = None,
        side_effects: SideEffects | Exception | None = None,
        data_version: str | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        given = {
            "linker": linker,
            "kg": kg,
            "literature": literature,
            "model": model,
            "backend": backend,
            "ranker": ranker,
            "drug_tables": drug_tables,
            "drug_classes": drug_classes,
            "severities": severities,
            "side_effects": side_effects,
            "data_version": data_version,
        }
        self._ready: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        self._lock = threading.Lock()

    def _get(self, name: str, open_: Callable[[Settings], T]) -> T:
        with self._lock:
            if name not in self._ready:
                self._ready[name] = open_(self.settings)  # raises: retried on the next use
            found = self._ready[name]
        if isinstance(found, Exception):
            raise found
        return cast(T, found)

    def linker(self) -> Linker:
        """The entity linker (names and codes -> ids, ids -> names)."""
        from kedrec_agent.linking.linker import get_linker

        return self._get("linker", get_linker)

    def kg(self) -> KnowledgeGraph:
        """The knowledge graph (local store or remote SPARQL endpoint)."""
        from kedrec_agent.kg.knowledge_graph import KnowledgeGraph

        return self._get("kg", KnowledgeGraph.from_settings)

    def literature(self) -> LiteratureSearch:
        """The literature search (Postgres with pgvector)."""
        from kedrec_agent.literature.search import LiteratureSearch

        return self._get("literature", LiteratureSearch.from_settings)

    def model(self) -> ReasoningModel:
        """The reasoning model (with its LoRA adapter, if any)."""
        from kedrec_agent.reasoning.runtime import load_model

        return self._get("model", load_model)

    def backend(self) -> Backend:
        """Where the reasoning model runs (``KEDREC_REASONER_BACKEND``).

        The local model's shared batched backend, or an OpenAI-compatible server.
        """
        if self.settings.reasoner_backend == "openai" or "backend" in self._ready:
            from kedrec_agent.reasoning.backends import OpenAIBackend

            return self._get("backend", OpenAIBackend.from_settings)
        from kedrec_agent.reasoning.local import LocalBackend

        return LocalBackend.of(self.model())

    def ranker(self) -> Ranker:
        """The learned candidate ranker (the artifact shipped in the package)."""
        from kedrec_agent.ranking.model import load_ranker

        return self._get("ranker", lambda _settings: load_ranker())

    def drug_tables(self) -> DrugTables:
        """Pharmacologic classes and ATC codes (empty where the bundle lacks them)."""
        from kedrec_agent.ranking.tables import DrugTables

        return self._get("drug_tables", DrugTables.from_settings)

    def name_similarity(self) -> NameSimilarity:
        """Cosine similarity of names in the literature's embedding (the ranker's features)."""
        from kedrec_agent.ranking.semantic import NameSimilarity

        return self._get("name_similarity", NameSimilarity.from_settings)

    def drug_classes(self) -> DrugClasses:
        """The MeSH drug classes."""
        from kedrec_agent.safety.classes import DrugClasses

        return self._get("drug_classes", DrugClasses.from_settings)

    def severities(self) -> SeverityTable:
        """The drug-drug interaction severities (empty when the bundle has none)."""
        from kedrec_agent.safety.severity import SeverityTable

        return self._get("severities", SeverityTable.from_settings)

    def side_effects(self) -> SideEffects:
        """The drugs' side effects that can worsen a comorbidity (empty without SIDER)."""
        from kedrec_agent.safety.comorbidity import SideEffects

        linker, kg = self.linker(), self.kg()  # before _get, which holds the lock while opening

        def disease_of(term: str) -> str | None:
            found = linker.exact(term, "disease")
            return found.canonical if found else None

        return self._get(
            "side_effects",
            lambda settings: SideEffects.from_settings(disease_of, kg.hierarchy.narrower, settings),
        )

    def data_version(self) -> str:
        """The data version of answers (see :func:`kedrec_agent.kg.build.data_version`)."""
        from kedrec_agent.kg.build import data_version

        return self._get("data_version", data_version)


@cache
def default_services() -> Services:
    """The process-wide services of the environment's settings."""
    return Services()
