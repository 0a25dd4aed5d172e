"""KEDRec agent: explainable, knowledge-enhanced drug recommendation for LangGraph agents.

Decision support for clinicians, not a prescription.

* ``from kedrec_agent import kedrec_tool``: the whole agent as one LangChain tool.
* ``from kedrec_agent import recommend, arecommend, recommend_batch``: the same from code,
  returning :class:`~kedrec_agent.agent.result.AgentResult`.

Nothing heavy is imported here: the graph, stores and model load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedrec_agent.agent.result import AgentResult
    from kedrec_agent.agent.tools import KedrecTool
    from kedrec_agent.api import arecommend, recommend, recommend_batch
    from kedrec_agent.patients import PatientInput

    kedrec_tool: KedrecTool

from kedrec_agent.version import __version__ as __version__

__all__ = [
    "AgentResult",
    "PatientInput",
    "arecommend",
    "kedrec_tool",
    "recommend",
    "recommend_batch",
]

_LAZY = {
    "AgentResult": "kedrec_agent.agent.result",
    "PatientInput": "kedrec_agent.patients",
    "arecommend": "kedrec_agent.api",
    "recommend": "kedrec_agent.api",
    "recommend_batch": "kedrec_agent.api",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name == "kedrec_tool":
        from kedrec_agent.agent.tools import KedrecTool

        value: Any = KedrecTool()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'kedrec_agent' has no attribute {name!r}")
    globals()[name] = value
    return value
