"""The literature store as LangChain components: a retriever and a tool.

Examples:
    >>> tool = LiteratureSearchTool()  # doctest: +SKIP
    >>> call = {"type": "tool_call", "id": "1", "name": tool.name,
    ...         "args": {"query": "imatinib chronic myeloid leukemia"}}
    >>> tool.invoke(call).artifact["hits"][0]["citation"]  # doctest: +SKIP
    'PMID:...'
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field

from kedrec_agent.errors import KedrecError
from kedrec_agent.literature.readers import Source
from kedrec_agent.literature.search import Filters, Hit, LiteratureSearch, Mode
from kedrec_agent.services import Services
from kedrec_agent.tool_base import ServiceTool

DESCRIPTION = (
    "Search biomedical literature (PubMed abstracts and ClinicalTrials.gov studies) for "
    "passages relevant to a query such as 'imatinib chronic myeloid leukemia'. Returns "
    "citable hits (PMID or NCT id, title, snippet, score, why it matched). Optional filters: "
    "sources, drugs and diseases mentioned (names or ids), MeSH ids, year range. Decision "
    "support for clinicians only, not a prescription."
)


class LiteratureSearchInput(BaseModel):
    """Arguments of the literature tool."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000, description="what to look for")
    k: int = Field(default=5, ge=1, le=20, description="number of hits")
    sources: list[Source] | None = None
    drugs: list[str] | None = Field(
        default=None, max_length=20, description="drug names or DrugBank ids mentioned (any)"
    )
    diseases: list[str] | None = Field(
        default=None, max_length=20, description="disease names or MeSH ids mentioned (any)"
    )
    mesh: list[str] | None = Field(default=None, max_length=20, description="MeSH ids (any)")
    year_from: int | None = Field(default=None, ge=1800, le=2100)
    year_to: int | None = Field(default=None, ge=1800, le=2100)


def render_hits(query: str, hits: list[Hit]) -> str:
    """LLM-readable text of hits, one citation per line."""
    if not hits:
        return f"No literature found for {query!r}."
    lines = [f"{len(hits)} passage(s) for {query!r}:"]
    lines += [f"- [{h.citation}] {h.title}: {h.snippet}" for h in hits]
    return "\n".join(lines)


class LiteratureSearchTool(ServiceTool):
    """LangChain tool: hybrid search with citations (content and artifact).

    Args:
        search: the literature search (default: the services').
        services: where the search comes from when not given.
    """

    name: str = "literature_search"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = LiteratureSearchInput
    failure = "The literature tool could not answer"

    def __init__(
        self,
        search: LiteratureSearch | None = None,
        services: Services | None = None,
        **kwargs: Any,
    ) -> None:
        if search is not None:
            services = Services(services.settings if services else None, literature=search)
        super().__init__(services, **kwargs)

    def _run(self, query: str, k: int = 5, **filters: Any) -> tuple[str, dict[str, Any]]:
        try:
            hits = self.services.literature().search(query, k=k, filters=Filters(**filters))
        except KedrecError as exc:
            return f"Literature search unavailable or input invalid: {exc}", {"error": str(exc)}
        artifact = {
            "query": query,
            "hits": [h.model_dump() for h in hits],
        }
        return render_hits(query, hits), artifact


class LiteratureRetriever(BaseRetriever):
    """LangChain retriever over the literature store (hybrid search by default)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    k: int = 5
    filters: Filters = Field(default_factory=Filters)
    mode: Mode = "hybrid"
    search: LiteratureSearch | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        if self.search is None:
            self.search = LiteratureSearch.from_settings()
        hits = self.search.search(query, k=self.k, filters=self.filters, mode=self.mode)
        return [
            LCDocument(
                page_content=h.snippet,
                metadata={
                    "citation": h.citation,
                    "title": h.title,
                    "score": h.score,
                    "why": h.why,
                    "drugs": h.drugs,
                    "diseases": h.diseases,
                    **h.metadata,
                },
            )
            for h in hits
        ]
