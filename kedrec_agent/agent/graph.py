"""The LangGraph state machine.

link -> kg_evidence -> literature -> rank -> reason -> safety -> [review] -> answer. A stage that
cannot go on sets ``abstained`` with a reason and the run goes straight to ``answer``, which
always builds the versioned result. ``review`` (an ``interrupt`` for a clinician) runs only
when ``Context.review`` is on, and needs a checkpointer.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer

from kedrec_agent.agent import nodes
from kedrec_agent.agent.context import Context, context_of
from kedrec_agent.agent.state import InputState, OutputState, State
from kedrec_agent.services import Services, default_services


def _next_unless_abstained(step: str) -> Any:
    def route(state: State) -> str:
        return "answer" if state.abstained else step

    route.__name__ = f"to_{step}"
    return route


def _after_safety(state: State, runtime: Runtime[Context]) -> str:
    return "review" if context_of(runtime).review and not state.abstained else "answer"


def build_graph(checkpointer: Checkpointer = None, services: Services | None = None) -> Any:
    """Compile the agent graph.

    Args:
        checkpointer: where runs are saved (needed for review / interrupts). None for
            LangGraph Studio and the API server, which bring their own.
        services: the stores and the model the nodes use (default: the process-wide ones,
            opened from the settings on first use).
    """
    services = services or default_services()
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    for node in (
        nodes.link,
        nodes.kg_evidence,
        nodes.literature,
        nodes.rank,
        nodes.reason,
        nodes.safety,
        nodes.review,
        nodes.answer,
    ):
        builder.add_node(node.__name__, nodes.bind(node, services))
    builder.add_edge(START, "link")
    builder.add_conditional_edges(
        "link", _next_unless_abstained("kg_evidence"), ["kg_evidence", "answer"]
    )
    builder.add_conditional_edges(
        "kg_evidence", _next_unless_abstained("literature"), ["literature", "answer"]
    )
    builder.add_edge("literature", "rank")
    builder.add_edge("rank", "reason")
    builder.add_conditional_edges("reason", _next_unless_abstained("safety"), ["safety", "answer"])
    builder.add_conditional_edges("safety", _after_safety, ["review", "answer"])
    builder.add_edge("review", "answer")
    builder.add_edge("answer", END)
    return builder.compile(name="kedrec", checkpointer=checkpointer)
