"""KEDRec agent: explainable, knowledge-enhanced drug recommendation for LangGraph agents.

Decision support for clinicians, not a prescription.

``from kedrec_agent import kedrec_tool`` gives the whole agent as one LangChain tool (the
graph, stores and model load on its first call, not at import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedrec_agent.agent.tools import KedrecTool

__version__ = "0.1.0"
__all__ = ["kedrec_tool"]


def __getattr__(name: str) -> Any:
    if name == "kedrec_tool":
        from kedrec_agent.agent.tools import KedrecTool

        tool: KedrecTool = KedrecTool()
        globals()["kedrec_tool"] = tool
        return tool
    raise AttributeError(f"module 'kedrec_agent' has no attribute {name!r}")
