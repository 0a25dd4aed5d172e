"""KEDREC_SPARQL_ENDPOINT: the same templates against a real SPARQL server on localhost."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kedrec_agent.config import Settings
from kedrec_agent.errors import StoreUnavailableError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _oxigraph() -> str:
    found = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    if not Path(found).exists():
        pytest.skip("the oxigraph server (pip package 'oxigraph', in the dev extra) is missing")
    return found


@pytest.fixture(scope="module")
def endpoint(tiny_settings: Settings) -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [_oxigraph(), "serve-read-only", "--location", str(tiny_settings.kg_store_dir),
         "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the oxigraph server did not start")
        yield f"http://127.0.0.1:{port}/query"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_remote_endpoint_answers_like_the_local_store(
    endpoint: str, tiny_settings: Settings, tiny_kg: KnowledgeGraph
) -> None:
    remote = KnowledgeGraph.from_settings(replace(tiny_settings, sparql_endpoint=endpoint))
    assert remote.drugs_for_disease("DOID:9352") == tiny_kg.drugs_for_disease("DOID:9352")
    assert remote.mechanism_paths("DB00641", "DOID:10763") == tiny_kg.mechanism_paths(
        "DB00641", "DOID:10763"
    )
    assert remote.interactions_among(["DB00682", "DB00945", "DB00641"]) == (
        tiny_kg.interactions_among(["DB00682", "DB00945", "DB00641"])
    )
    assert remote.drug_facts("DB00331") == tiny_kg.drug_facts("DB00331")
    masked = remote.with_exclusions([("DB00331", "MESH:D003924")])
    assert all(r.drug.id != "Compound::DB00331" for r in masked.drugs_for_disease("DOID:9352"))


def test_endpoint_down_is_a_clear_error(tiny_settings: Settings) -> None:
    down = f"http://127.0.0.1:{_free_port()}/query"
    kg = KnowledgeGraph.from_settings(
        replace(tiny_settings, sparql_endpoint=down, sparql_timeout_s=2)
    )
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="cannot be reached"):
        kg.drugs_for_disease("MESH:D015464")
    assert time.monotonic() - started < 5
