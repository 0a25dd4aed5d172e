"""Rows returned by the knowledge-graph templates (pydantic, JSON-serialisable).

Entities are named as in DRKG (``Compound::DB00619``); every row lists the graph edges it
stands on, so an answer can cite the exact triples and the evaluation can mask them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Entity(BaseModel):
    """A graph entity: its DRKG name and display label."""

    id: str = Field(description="DRKG entity name, e.g. 'Compound::DB00619'")
    label: str | None = Field(default=None, description="display name from the name tables")

    @property
    def local_id(self) -> str:
        """The id without the DRKG type, e.g. ``DB00619`` or ``MESH:D015464``."""
        return self.id.partition("::")[2]

    def __str__(self) -> str:
        return f"{self.label} ({self.local_id})" if self.label else self.local_id


class Edge(BaseModel):
    """One graph triple, with DRKG names (the citation of a KG fact)."""

    head: str
    relation: str
    tail: str

    def __str__(self) -> str:
        return f"{self.head} --{self.relation}--> {self.tail}"


class Row(BaseModel):
    """Base of all template rows."""

    edges: list[Edge] = Field(default_factory=list, description="the triples this row rests on")


class DrugIndication(Row):
    """A drug with a treats/palliates edge to a disease (of the queried concept)."""

    drug: Entity
    disease: Entity
    relation: str
    category: str = Field(description="'treats' or 'palliates'")


class GeneLink(Row):
    """A drug's or a disease's link to a gene."""

    gene: Entity
    relation: str
    role: str = Field(description="target, enzyme, transporter, carrier, associated gene...")


class MechanismPath(Row):
    """A drug -> gene -> disease path, scored by the kinds of its two edges."""

    drug: Entity
    gene: Entity
    disease: Entity
    score: float
    actions: list[str] = Field(
        default_factory=list,
        description="what the drug does to the gene, per DGIdb (INHIBITOR, AGONIST, ...)",
    )


class MechanismCandidate(Row):
    """A drug that acts on genes associated with the disease."""

    drug: Entity
    shared_genes: int


class Interaction(Row):
    """A drug-drug interaction; ``description`` where DrugBank's typed data has one."""

    drug_a: Entity
    drug_b: Entity
    relation: str
    description: str | None = None


class RelatedIndication(Row):
    """A drug's indication for another disease, and how related that disease is (MeSH)."""

    drug: Entity
    disease: Entity
    relation: str
    score: float = Field(description="shared MeSH tree depth / deeper tree number (0 to 1)")
    ancestor: str | None = Field(default=None, description="the MeSH heading both fall under")


class DiseaseSymptom(Row):
    """A symptom that presents with the disease (Hetionet DpS)."""

    disease: Entity
    symptom: Entity


class DrugFacts(Row):
    """What the graph says about one drug."""

    drug: Entity
    genes: list[GeneLink]
    indications: list[DrugIndication]
    interacting_drugs: int
