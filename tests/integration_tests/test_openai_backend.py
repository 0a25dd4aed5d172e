"""The agent through ``KEDREC_REASONER_BACKEND=openai`` against a real llama.cpp server.

The server is llama.cpp's own (xllamacpp, the packaged GGUF) on a free local port; the
agent reaches it with langchain-openai, the answer schema sent as ``response_format``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk

from kedrec_agent.agent.context import Context
from kedrec_agent.agent.graph import build_graph
from kedrec_agent.agent.result import AgentResult
from kedrec_agent.api import graph_input
from kedrec_agent.config import Settings
from kedrec_agent.reasoning.backends import OpenAIBackend
from kedrec_agent.reasoning.constrained import task_schema
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.services import Services, default_services
from tests.llm_server import free_port, llama_server
from tests.unit_tests.test_reasoning import _task

pytestmark = pytest.mark.integration
NOTE = "62-year-old man with type 2 diabetes on warfarin."


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with llama_server() as url:
        yield url


def _answer(graph: Any) -> AgentResult:
    return AgentResult.model_validate(graph.invoke(graph_input(NOTE), context=Context())["result"])


def _graph(settings: Settings, **changes: Any) -> Any:
    """The real graph on the bundle's stores, its reasoning model behind ``changes``."""
    shared = default_services()
    services = Services(
        replace(settings, reasoner_backend="openai", **changes),
        linker=shared.linker(),
        kg=shared.kg(),
        literature=shared.literature(),
        ranker=shared.ranker(),
        drug_tables=shared.drug_tables(),
        drug_classes=shared.drug_classes(),
        severities=shared.severities(),
    )
    return build_graph(services=services)


def test_schema_constrained_answers_from_the_server(server: str) -> None:
    task = _task(evidence=4, max_choices=2)
    backend = OpenAIBackend(server, "kedrec")
    reasoner = Reasoner(backend, max_new_tokens=120)
    messages, shown = reasoner.messages(task)
    pieces: list[str] = []
    answer = backend.answer(messages, task_schema(task, shown), 120, on_text=pieces.append)
    assert answer.constrained and "".join(pieces) == answer.text
    rec = reasoner.recommend(task)
    assert not rec.fallback and rec.choices
    assert {c.drug_id for c in rec.choices} <= set(task.candidate_ids())


def test_agent_answers_through_the_server_and_streams_messages(
    bundle_settings: Settings, server: str
) -> None:
    graph = _graph(bundle_settings, llm_base_url=server)
    chunks = list(
        graph.stream(graph_input(NOTE), context=Context(), stream_mode=["messages", "values"])
    )
    messages = [c[0] for mode, c in chunks if mode == "messages"]
    tokens = [m.text for m in messages if isinstance(m, AIMessageChunk)]
    assert "".join(tokens).startswith("{")  # the model's JSON, token by token
    result = AgentResult.model_validate([c for mode, c in chunks if mode == "values"][-1]["result"])
    assert result.recommendations and not result.fallback
    assert result.versions.model and "kedrec at 127.0.0.1" in result.versions.model


def test_server_down_answers_from_the_evidence_with_a_note(bundle_settings: Settings) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    graph = _graph(bundle_settings, llm_base_url=down)
    result = AgentResult.model_validate(
        graph.invoke(graph_input(NOTE), context=Context())["result"]
    )
    assert result.recommendations and result.fallback
    assert any(
        "Reasoning model unavailable" in n and "cannot be reached" in n for n in result.notes
    )


def test_slow_server_times_out_into_the_evidence_ranking(
    bundle_settings: Settings, server: str
) -> None:
    graph = _graph(bundle_settings, llm_base_url=server, llm_timeout_s=0.05)
    result = AgentResult.model_validate(
        graph.invoke(graph_input(NOTE), context=Context())["result"]
    )
    assert result.recommendations and result.fallback
    assert any("did not answer within" in n for n in result.notes)
