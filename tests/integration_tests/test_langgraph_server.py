"""The graph behind `langgraph dev` (in-memory API server), offline, through the SDK.

The server runs headless and offline: no browser, no hot reload, no LangSmith tracing, no CLI
analytics, no PyPI version check, Hugging Face offline. Blocking calls are not allowed
(no ``--allow-blocking``): the nodes are sync functions, which LangGraph runs in executor
threads, where the server's blockbuster check does not raise.
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
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from kedrec_agent.config import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PATIENT = "68-year-old man with type 2 diabetes and hypertension on warfarin"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
# Anything that would make the server (or the graph in it) call out: LangSmith tracing, the
# license / metadata beacon, OTLP and Datadog exporters.
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


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _ok(url: str) -> bool:
    try:
        with _NO_PROXY.open(f"{url}/ok", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
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


@pytest.fixture(scope="module")
def server(bundle_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("langgraph-dev") / "server.log"
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env |= OFFLINE_ENV | {
        "KEDREC_DATA_DIR": str(bundle_settings.data_dir),
        "KEDREC_HOME": str(bundle_settings.home),
    }
    langgraph = Path(sys.executable).with_name("langgraph")
    command = [str(langgraph), "dev", "--no-browser", "--no-reload",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    running = Server(url=url, log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ok(url):
            if process.poll() is not None:
                pytest.fail(f"langgraph dev exited ({process.returncode}):\n{running.log_tail()}")
            if "already in use" in log.read_text(errors="replace"):
                pytest.fail(f"port {port} was taken; the server moved:\n{running.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev not ready in {START_TIMEOUT_S:.0f} s:\n"
                            f"{running.log_tail()}")  # fmt: skip
            time.sleep(0.25)
        yield running
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[SyncLangGraphClient]:
    # api_key=None: do not send a LangSmith key from the environment to the local server.
    with get_sync_client(url=server.url, api_key=None, timeout=300.0) as sync_client:
        yield sync_client


def _wait(client: SyncLangGraphClient, patient: str) -> dict[str, Any]:
    out = client.runs.wait(None, "kedrec", input={"patient": patient}, raise_error=False)
    assert isinstance(out, dict), out
    return out


def test_assistant_for_the_kedrec_graph(client: SyncLangGraphClient) -> None:
    assistants = client.assistants.search(graph_id="kedrec")
    assert "kedrec" in {a["graph_id"] for a in assistants}


def test_stateless_run_answers_or_abstains(client: SyncLangGraphClient) -> None:
    out = _wait(client, PATIENT)
    assert "__error__" not in out, out["__error__"]
    assert out["conditions"]
    if out.get("abstained"):
        assert out["reason"]
    else:
        assert out["recommendation"]["choices"]


def test_stream_updates_name_the_nodes_in_order(client: SyncLangGraphClient) -> None:
    nodes: list[str] = []
    for part in client.runs.stream(None, "kedrec", input={"patient": PATIENT},
                                   stream_mode="updates"):  # fmt: skip
        assert part.event != "error", part.data
        if part.event == "updates":
            nodes.extend(part.data)
    assert nodes[:2] == ["link", "kg_evidence"], nodes
    assert nodes[-1] == "answer" and len(nodes) == len(set(nodes)), nodes


def test_empty_patient_abstains_and_server_stays_up(
    client: SyncLangGraphClient, server: Server
) -> None:
    out = _wait(client, "")
    if "__error__" not in out:
        assert out.get("abstained") and out["reason"], out
    assert _ok(server.url), server.log_tail()


def test_no_blocking_call_errors_in_the_server_log(server: Server) -> None:
    log = server.log.read_text(errors="replace")
    assert "BlockingError" not in log and "blocking call" not in log, server.log_tail()
