"""Durable runs: a LangGraph Postgres checkpointer on the literature store's server.

Needed for clinician review (``Context(review=True)``): the run pauses at the ``review``
node and resumes, possibly in another process, with the reviewer's decision.

Example:
    >>> with postgres_checkpointer() as saver:  # doctest: +SKIP
    ...     graph = build_graph(checkpointer=saver)
    ...     config = {"configurable": {"thread_id": "patient-42"}}
    ...     graph.invoke({"patient": "..."}, config, context=Context(review=True))
    ...     graph.invoke(Command(resume={"action": "approve"}), config,
    ...                  context=Context(review=True))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import StoreUnavailableError
from kedrec_agent.literature.server import describe, server_dsn

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres import PostgresSaver


@contextmanager
def postgres_checkpointer(settings: Settings | None = None) -> Iterator[PostgresSaver]:
    """A :class:`PostgresSaver` on the configured server (embedded or ``KEDREC_PG_DSN``).

    Its tables are created on first use.

    Raises:
        StoreUnavailableError: the server cannot be reached.
    """
    from langgraph.checkpoint.postgres import PostgresSaver

    dsn = server_dsn(settings or get_settings())
    try:
        with PostgresSaver.from_conn_string(dsn) as saver:
            saver.setup()
            yield saver
    except psycopg.OperationalError as exc:
        raise StoreUnavailableError(
            f"The checkpoint store at {describe(dsn)} is unavailable ({type(exc).__name__})."
        ) from exc
