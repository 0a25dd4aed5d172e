"""Entry point for LangGraph Studio / ``langgraph dev`` (see langgraph.json)."""

from kedrec_agent.agent.graph import build_graph

graph = build_graph()
