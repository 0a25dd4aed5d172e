"""KEDRec agent: explainable, knowledge-enhanced drug recommendation for LangGraph agents.

Decision support for clinicians, not a prescription.
"""

__version__ = "0.1.0"
