"""The DRKG knowledge graph: RDF store build, SPARQL templates, the LangChain tool."""

from kedrec_agent.kg.knowledge_graph import ExclusionSet, KnowledgeGraph

__all__ = ["ExclusionSet", "KnowledgeGraph"]
