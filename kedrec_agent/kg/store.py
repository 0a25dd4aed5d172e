"""Open the knowledge graph as an rdflib ``Graph``: the local Oxigraph store or a remote endpoint.

Local: rdflib over oxrdflib, on the store that ``kedrec setup`` built, opened read-only (any
number of processes may read it; nothing the agent does can write to it). Remote:
``KEDREC_SPARQL_ENDPOINT`` names any SPARQL 1.1 endpoint, queried through rdflib's
``SPARQLStore`` with a request timeout and a cap on the answer's size; rdflib's
``SPARQLStore`` refuses updates and added triples, and so does the read-only local store.

Bound parameters: with Oxigraph, ``initBindings`` become engine-level substitutions; with a
remote endpoint, rdflib serialises each bound RDF term (escaped by rdflib) into a ``VALUES``
block. Either way no caller text is ever formatted into a query string, and the values bound
are always IRIs of entities that the linker resolved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from io import BytesIO
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pyoxigraph as ox
from oxrdflib import OxigraphStore
from rdflib import Graph
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from rdflib.query import Result
from rdflib.term import Identifier

from kedrec_agent.config import Settings
from kedrec_agent.errors import StoreNotBuiltError, StoreUnavailableError
from kedrec_agent.kg.build import read_stamp

_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)
# Largest endpoint answer read (bytes): the templates' answers are far smaller.
MAX_RESPONSE_BYTES = 64 << 20


def bind_values(query: str, bindings: Mapping[str, Identifier], render: Any) -> str:
    """Put ``bindings`` as a one-row ``VALUES`` block at the start of the outer WHERE group.

    rdflib's own SPARQLStore appends VALUES after the whole query, which an endpoint joins
    only after evaluating (and aggregating) everything; binding at the start keeps the
    template's meaning identical to an engine-level substitution and lets the endpoint use it.
    """
    if not bindings:
        return query
    match = _WHERE.search(query)
    if match is None:
        raise ValueError("query template has no WHERE clause to bind values into")
    names = " ".join(f"?{name}" for name in bindings)
    values = " ".join(render(term) for term in bindings.values())
    block = f" VALUES ({names}) {{ ({values}) }} "
    return query[: match.end()] + block + query[match.end() :]


class RemoteSPARQLStore(SPARQLStore):
    """rdflib ``SPARQLStore`` with a request timeout, bound values and clear errors."""

    def __init__(self, endpoint: str, timeout_s: float) -> None:
        super().__init__(query_endpoint=endpoint, returnFormat="json")
        self.timeout_s = timeout_s

    def query(  # type: ignore[override]
        self,
        query: str,
        initNs: Mapping[str, Any] | None = None,  # noqa: N803
        initBindings: Mapping[str, Identifier] | None = None,  # noqa: N803
        queryGraph: str | None = None,  # noqa: N803
        DEBUG: bool = False,  # noqa: N803
    ) -> Result:
        """Run ``query`` on the endpoint with ``initBindings`` bound at the start of WHERE."""
        text = bind_values(query, initBindings or {}, self.node_to_sparql)
        if initNs:
            text = self._inject_prefixes(text, initNs)
        return self._query(text)

    def _query(self, query: str, *args: Any, **kwargs: Any) -> Result:
        self._queries += 1
        request = Request(
            str(self.query_endpoint),
            data=urlencode({"query": query}).encode(),
            headers={
                "Accept": "application/sparql-results+json",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with urlopen(request, timeout=self.timeout_s) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
                content_type = response.headers.get("Content-Type", "").split(";")[0]
        except HTTPError as exc:
            raise StoreUnavailableError(
                f"The SPARQL endpoint {self.query_endpoint} answered HTTP {exc.code}."
            ) from exc
        except (URLError, TimeoutError, OSError) as exc:
            raise StoreUnavailableError(
                f"The SPARQL endpoint {self.query_endpoint} cannot be reached or did not answer "
                f"within {self.timeout_s:g} s ({getattr(exc, 'reason', exc)}). Check "
                "KEDREC_SPARQL_ENDPOINT, or unset it to use the local store."
            ) from exc
        if len(body) > MAX_RESPONSE_BYTES:
            raise StoreUnavailableError(
                f"The SPARQL endpoint {self.query_endpoint} answered more than "
                f"{MAX_RESPONSE_BYTES >> 20} MiB; the answer was dropped."
            )
        return Result.parse(BytesIO(body), content_type=content_type or "application/json")


def open_graph(settings: Settings) -> Graph:
    """The knowledge graph as a read-only rdflib ``Graph``.

    Raises:
        StoreNotBuiltError: no local store has been built (run ``kedrec setup``).
    """
    if settings.sparql_endpoint:
        store: Any = RemoteSPARQLStore(settings.sparql_endpoint, settings.sparql_timeout_s)
    else:
        if read_stamp(settings) is None:
            raise StoreNotBuiltError(
                f"No knowledge-graph store at {settings.kg_store_dir}. Run `kedrec setup` "
                "(or `make demo`) to build it, or set KEDREC_SPARQL_ENDPOINT."
            )
        try:
            store = OxigraphStore(store=ox.Store.read_only(str(settings.kg_store_dir)))
        except OSError as exc:
            raise StoreNotBuiltError(
                f"The knowledge-graph store at {settings.kg_store_dir} cannot be opened ({exc}). "
                "Rebuild it with `kedrec setup --force`."
            ) from exc
    return Graph(store=store, identifier=DATASET_DEFAULT_GRAPH_ID)
