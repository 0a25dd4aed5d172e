"""The LangGraph state machine.

Patient text -> link -> KG evidence -> literature -> reasoning -> safety. Any stage may
abstain with a reason; the graph then ends.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from kedrec_agent.agent import nodes
from kedrec_agent.agent.context import Context
from kedrec_agent.agent.state import InputState, OutputState, State


def _after_link(state: State) -> str:
    return END if state.abstained else "kg_evidence"


def _after_kg(state: State) -> str:
    return END if state.abstained else "literature"


def _after_reason(state: State) -> str:
    return END if state.abstained else "safety"


def build_graph() -> Any:
    """Compile the agent graph (no checkpointer: LangGraph Studio / the server adds one)."""
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node("link", nodes.link)
    builder.add_node("kg_evidence", nodes.kg_evidence)
    builder.add_node("literature", nodes.literature_evidence)
    builder.add_node("reason", nodes.reason)
    builder.add_node("safety", nodes.safety)
    builder.add_edge(START, "link")
    builder.add_conditional_edges("link", _after_link, ["kg_evidence", END])
    builder.add_conditional_edges("kg_evidence", _after_kg, ["literature", END])
    builder.add_edge("literature", "reason")
    builder.add_conditional_edges("reason", _after_reason, ["safety", END])
    builder.add_edge("safety", END)
    return builder.compile(name="kedrec")
