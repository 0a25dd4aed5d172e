"""The knowledge graph as a LangChain tool that any agent can call on its own.

Examples:
    >>> tool = KnowledgeGraphTool()  # doctest: +SKIP
    >>> args = {"operation": "drugs_for_disease", "disease": "type 2 diabetes"}
    >>> call = {"type": "tool_call", "id": "1", "name": tool.name, "args": args}
    >>> msg = tool.invoke(call)  # doctest: +SKIP
    >>> msg.artifact["rows"][0]["drug"]["label"]  # doctest: +SKIP
    'Metformin'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kedrec_agent.errors import KedrecError, UnknownEntityError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.kg.models import (
    DiseaseSymptom,
    DrugFacts,
    DrugIndication,
    GeneLink,
    Interaction,
    MechanismCandidate,
    MechanismPath,
    RelatedIndication,
    Row,
)
from kedrec_agent.linking import Linker
from kedrec_agent.services import Services
from kedrec_agent.tool_base import ServiceTool

Operation = Literal[
    "drugs_for_disease",
    "drug_genes",
    "mechanism_paths",
    "interactions",
    "disease_genes",
    "disease_symptoms",
    "drug_facts",
    "drugs_targeting_disease_genes",
    "related_indications",
]
_NEEDS: dict[str, tuple[str, ...]] = {
    "drugs_for_disease": ("disease",),
    "drug_genes": ("drug",),
    "mechanism_paths": ("drug", "disease"),
    "interactions": ("drugs",),
    "disease_genes": ("disease",),
    "disease_symptoms": ("disease",),
    "drug_facts": ("drug",),
    "drugs_targeting_disease_genes": ("disease",),
    "related_indications": ("drug", "disease"),
}

DESCRIPTION = (
    "Query the DRKG biomedical knowledge graph (DrugBank, Hetionet, DGIdb). Operations: "
    "drugs_for_disease(disease), drug_genes(drug), mechanism_paths(drug, disease), "
    "interactions(drugs: 2-20 names), disease_genes(disease), disease_symptoms(disease), "
    "drug_facts(drug), drugs_targeting_disease_genes(disease), related_indications(drug, "
    "disease): the drug's indications for other diseases, the most related in MeSH first. "
    "Drugs and diseases may be "
    "names or ids (DB00619, MESH:D015464, DOID:8552). Returns facts with their source "
    "relations. Decision support for clinicians only, not a prescription; always surface "
    "drug-drug interaction warnings."
)


class KnowledgeGraphInput(BaseModel):
    """Arguments of the knowledge-graph tool."""

    model_config = ConfigDict(extra="forbid")

    operation: Operation = Field(description="which query template to run")
    disease: str | None = Field(
        default=None, max_length=300, description="disease name or MeSH/DOID id"
    )
    drug: str | None = Field(default=None, max_length=300, description="drug name or DrugBank id")
    drugs: list[str] | None = Field(
        default=None, min_length=2, max_length=20, description="drugs to check for interactions"
    )
    limit: int = Field(default=10, ge=1, le=50, description="maximum rows to return")

    @model_validator(mode="after")
    def _required_arguments(self) -> KnowledgeGraphInput:
        missing = [name for name in _NEEDS[self.operation] if not getattr(self, name)]
        if missing:
            raise ValueError(f"operation {self.operation} needs: {', '.join(missing)}")
        return self


class KnowledgeGraphTool(ServiceTool):
    """LangChain tool over :class:`KnowledgeGraph`; links names, returns text + rows.

    Content is a short text for an LLM; the artifact is a dict with the linked entities,
    the structured ``rows`` (each with its source edges) and, on failure, ``error`` and
    ``suggestions``. Unknown names never raise: the tool answers with the closest names.

    Args:
        kg: the graph (default: the services' graph).
        linker: the entity linker (default: the services' linker).
        services: where the graph and linker come from when not given.
    """

    name: str = "drug_knowledge_graph"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = KnowledgeGraphInput
    failure = "The knowledge graph tool could not answer"

    def __init__(
        self,
        kg: KnowledgeGraph | None = None,
        linker: Linker | None = None,
        services: Services | None = None,
        **kwargs: Any,
    ) -> None:
        if kg is not None or linker is not None:
            base = services.settings if services else None
            services = Services(base, kg=kg, linker=linker)
        super().__init__(services, **kwargs)

    @property
    def kg(self) -> KnowledgeGraph:
        """The graph (opened on first use)."""
        return self.services.kg()

    @property
    def linker(self) -> Linker:
        """The entity linker (loaded on first use)."""
        return self.services.linker()

    def _run(
        self,
        operation: Operation,
        disease: str | None = None,
        drug: str | None = None,
        drugs: list[str] | None = None,
        limit: int = 10,
        **_: Any,
    ) -> tuple[str, dict[str, Any]]:
        request = KnowledgeGraphInput(
            operation=operation, disease=disease, drug=drug, drugs=drugs, limit=limit
        )
        try:
            return run_query(self.kg, self.linker, request)
        except UnknownEntityError as exc:
            artifact = {"operation": operation, "error": str(exc), "suggestions": exc.suggestions}
            return str(exc), artifact
        except KedrecError as exc:
            return f"Knowledge graph unavailable or input invalid: {exc}", {
                "operation": operation,
                "error": str(exc),
            }


def run_query(
    kg: KnowledgeGraph, linker: Linker, request: KnowledgeGraphInput
) -> tuple[str, dict[str, Any]]:
    """Link the names of ``request``, run its template, return (text, artifact).

    Raises:
        UnknownEntityError: a drug or disease name could not be linked (with suggestions).
        StoreUnavailableError: the store or endpoint cannot be queried.
    """
    linked: dict[str, Any] = {}
    disease_id = drug_id = ""
    if request.disease:
        entity = linker.link_disease(request.disease)
        disease_id, linked["disease"] = entity.canonical, entity
    if request.drug:
        entity = linker.link_drug(request.drug)
        drug_id, linked["drug"] = entity.id, entity
    drug_ids: list[str] = []
    if request.drugs:
        entities = [linker.link_drug(name) for name in request.drugs]
        drug_ids, linked["drugs"] = [e.id for e in entities], entities
    limit = request.limit
    calls: dict[str, Callable[[], Sequence[Row]]] = {
        "drugs_for_disease": lambda: kg.drugs_for_disease(disease_id),
        "drug_genes": lambda: kg.drug_genes(drug_id),
        "mechanism_paths": lambda: kg.mechanism_paths(drug_id, disease_id, limit),
        "interactions": lambda: kg.interactions_among(drug_ids),
        "disease_genes": lambda: kg.disease_genes(disease_id, limit),
        "disease_symptoms": lambda: kg.disease_symptoms(disease_id),
        "drug_facts": lambda: [kg.drug_facts(drug_id)],
        "drugs_targeting_disease_genes": lambda: kg.drugs_targeting_disease_genes(
            disease_id, limit
        ),
        "related_indications": lambda: kg.related_indications(drug_id, disease_id),
    }
    rows = list(calls[request.operation]())[:limit]
    artifact = {
        "operation": request.operation,
        "linked": {
            key: [asdict(e) for e in value] if isinstance(value, list) else asdict(value)
            for key, value in linked.items()
        },
        "rows": [row.model_dump() for row in rows],
    }
    return render_rows(request.operation, linked, rows), artifact


def render_rows(operation: str, linked: dict[str, Any], rows: list[Row]) -> str:
    """A compact, LLM-readable text of template rows."""

    def named(value: Any) -> str:
        items = value if isinstance(value, list) else [value]
        return ", ".join(f"{e.name} ({e.id})" for e in items)

    about = ", ".join(f"{key}={named(value)}" for key, value in linked.items())
    if not rows:
        return f"{operation}({about}): no facts found in the knowledge graph."
    lines = [f"{operation}({about}): {len(rows)} result(s)"]
    lines += [f"- {_describe(row)}" for row in rows]
    return "\n".join(lines)


def _describe(row: Row) -> str:
    source = ", ".join(dict.fromkeys(e.relation for e in row.edges))
    if isinstance(row, DrugIndication):
        return f"{row.drug} {row.category} {row.disease} [{source}]"
    if isinstance(row, MechanismPath):
        return f"{row.drug} -> {row.gene} -> {row.disease} (score {row.score:g}) [{source}]"
    if isinstance(row, GeneLink):
        return f"{row.gene}: {row.role} [{source}]"
    if isinstance(row, Interaction):
        what = row.description or f"{row.drug_a} interacts with {row.drug_b}"
        return f"INTERACTION: {what} [{source}]"
    if isinstance(row, MechanismCandidate):
        return f"{row.drug} acts on {row.shared_genes} gene(s) associated with the disease"
    if isinstance(row, RelatedIndication):
        shared = f", both under {row.ancestor}" if row.ancestor else ""
        return (
            f"{row.drug} treats {row.disease} (MeSH relatedness {row.score:g}{shared}) [{source}]"
        )
    if isinstance(row, DiseaseSymptom):
        return f"{row.disease} presents with {row.symptom} [{source}]"
    if isinstance(row, DrugFacts):
        targets = ", ".join(str(g.gene) for g in row.genes if g.role == "target")[:300]
        indications = ", ".join(str(i.disease) for i in row.indications)[:300]
        return (
            f"{row.drug}: {len(row.genes)} gene links (targets: {targets or 'none'}); "
            f"indications: {indications or 'none'}; interacts with {row.interacting_drugs} drugs"
        )
    return str(row)
