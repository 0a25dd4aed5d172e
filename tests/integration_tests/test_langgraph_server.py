"""The graph behind `langgraph dev` (in-memory API server), offline, through the SDK.

The server runs headless and offline (:mod:`tests.devserver`). Blocking calls are
not allowed (no ``--allow-blocking``): the nodes are sync functions, which LangGraph runs in
executor threads, where the server's blockbuster check does not raise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from kedrec_agent.config import Settings
from tests.devserver import DevServer, is_up, langgraph_dev

pytestmark = pytest.mark.integration

PATIENT = "68-year-old man with type 2 diabetes and hypertension on warfarin"
START_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def server(
    bundle_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevServer]:
    log = tmp_path_factory.mktemp("langgraph-dev") / "server.log"
    with langgraph_dev(log, bundle_settings, START_TIMEOUT_S) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: DevServer) -> Iterator[SyncLangGraphClient]:
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


def test_stateless_run_answers(client: SyncLangGraphClient) -> None:
    out = _wait(client, PATIENT)
    assert "__error__" not in out, out["__error__"]
    assert len(out["conditions"]) == 2  # type 2 diabetes and hypertension
    result = out["result"]
    assert not result["abstained"], result["reason"]
    assert result["recommendations"] and all(r["evidence"] for r in result["recommendations"])
    assert result["schema_version"] == "kedrec.recommendation/2"


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
    client: SyncLangGraphClient, server: DevServer
) -> None:
    out = _wait(client, "")
    assert "__error__" not in out, out["__error__"]
    assert out["abstained"] and out["reason"], out
    assert is_up(server.url), server.log_tail()


def test_no_blocking_call_errors_in_the_server_log(server: DevServer) -> None:
    log = server.log.read_text(errors="replace")
    assert "BlockingError" not in log and "blocking call" not in log, server.log_tail()
