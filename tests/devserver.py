"""``langgraph dev`` started offline on a free local port (tests, load benchmark, debugging).

The server runs headless and offline: no browser, no hot reload, no LangSmith tracing, no
CLI analytics, no PyPI version check, Hugging Face offline, and the keys and endpoints that
would make it (or the graph in it) call out are dropped from its environment.

Example:
    >>> with langgraph_dev(Path("server.log")) as server:  # doctest: +SKIP
    ...     get_sync_client(url=server.url, api_key=None).assistants.search()
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kedrec_agent.config import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
"""The project folder (where ``langgraph.json`` is)."""

DROPPED_ENV = (
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "LANGGRAPH_API_KEY",
    "LANGSMITH_CONTROL_PLANE_API_KEY",
    "LANGGRAPH_CLOUD_LICENSE_KEY",
    "LANGSMITH_ENDPOINT",
    "LANGCHAIN_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "LSD_DD_API_KEY",
    "LANGGRAPH_METRICS_ENDPOINT",
)
"""LangSmith tracing, the licence / metadata beacon, OTLP and Datadog exporters."""

OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",  # else the CLI posts the command to Supabase
    "LANGGRAPH_NO_VERSION_CHECK": "true",  # else the server asks PyPI for newer versions
    "LANGSMITH_TRACING": "false",  # no trace upload, no LangSmith client for the Studio URL
    "LANGSMITH_TRACING_V2": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGCHAIN_TRACING": "false",
    "OTEL_ENABLED": "false",
    "LANGGRAPH_METRICS_ENABLED": "false",
    "HF_HUB_OFFLINE": "1",  # the models load from local folders only
    "TRANSFORMERS_OFFLINE": "1",
    "LOG_COLOR": "false",  # a readable log file
    "PYTHONUNBUFFERED": "1",
}

STOP_TIMEOUT_S = 30.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def is_up(url: str) -> bool:
    """Whether the server at ``url`` answers ``/ok`` (never through a proxy)."""
    try:
        with _NO_PROXY.open(f"{url}/ok", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass(frozen=True)
class DevServer:
    """A running ``langgraph dev``: its URL, process id and log file."""

    url: str
    pid: int
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log."""
        return self.log.read_text(errors="replace")[-chars:]


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT the server's process group, then SIGKILL whatever is left.

    SIGINT, not SIGTERM: uvicorn shuts down gracefully on both, then re-raises the signal;
    a re-raised SIGTERM kills the process before ``atexit`` runs, so the embedded Postgres
    would keep this pid in its list of users and never stop. SIGINT ends in a
    KeyboardInterrupt, and the ``atexit`` handlers run.
    """
    pgid = process.pid  # start_new_session: the server leads its own group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
    # Any child left in the group (the embedded Postgres is not: pg_ctl gives it a session).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


@contextlib.contextmanager
def langgraph_dev(
    log: Path, settings: Settings | None = None, timeout: float = 180.0
) -> Iterator[DevServer]:
    """Run ``langgraph dev`` offline on a free port until the block ends.

    Args:
        log: where the server's output goes.
        settings: the data folder and home it serves (default: the current settings).
        timeout: seconds to wait for ``/ok``.

    Raises:
        RuntimeError: the server exited, lost its port or was not ready in time (with the
            end of its log).
    """
    settings = settings or get_settings()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env |= OFFLINE_ENV | {
        "KEDREC_DATA_DIR": str(settings.data_dir),
        "KEDREC_HOME": str(settings.home),
    }
    langgraph = Path(sys.executable).with_name("langgraph")
    command = [str(langgraph), "dev", "--no-browser", "--no-reload",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = DevServer(url=url, pid=process.pid, log=log)
    try:
        deadline = time.monotonic() + timeout
        while not is_up(url):
            problem = None
            if process.poll() is not None:
                problem = f"exited ({process.returncode})"
            elif "already in use" in log.read_text(errors="replace"):
                problem = f"lost port {port} to another process"
            elif time.monotonic() > deadline:
                problem = f"was not ready in {timeout:.0f} s"
            if problem:
                raise RuntimeError(f"langgraph dev {problem}:\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        stop(process)
