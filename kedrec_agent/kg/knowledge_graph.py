"""The knowledge-graph API: parameterised templates over the RDF store, with masking.

Example:
    >>> kg = KnowledgeGraph.from_settings()  # doctest: +SKIP
    >>> [row.drug.label for row in kg.drugs_for_disease("MESH:D015464")][:3]  # doctest: +SKIP
    ['Imatinib', 'Dasatinib', 'Nilotinib']
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, islice
from typing import Any, TypeVar

from rdflib import Graph, Literal, URIRef
from rdflib.query import ResultRow

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.data import bundle
from kedrec_agent.data.names import iter_doid_mesh_xrefs
from kedrec_agent.errors import InvalidInputError, StoreUnavailableError
from kedrec_agent.kg import queries, relations, vocab
from kedrec_agent.kg.hierarchy import EMPTY, DiseaseHierarchy, load_hierarchy
from kedrec_agent.kg.models import (
    DiseaseSymptom,
    DrugFacts,
    DrugIndication,
    Edge,
    Entity,
    GeneLink,
    Interaction,
    MechanismCandidate,
    MechanismPath,
    RelatedIndication,
    Row,
)
from kedrec_agent.kg.store import open_graph
from kedrec_agent.linking.diseases import DiseaseEquivalences

_DRUG_ID = re.compile(r"^DB\d{5}$")
_DISEASE_ID = re.compile(r"^(MESH|DOID):[A-Za-z0-9_.-]+$")
MAX_INTERACTION_DRUGS = 50
# Rows read from one template query, whatever the store returns (the templates that can
# grow with the graph have their own LIMIT below this; Oxigraph stops at the cap).
MAX_ROWS = 10_000
DISEASE_EDGES_CACHED = 32
"""Concepts whose disease-gene edges a graph keeps (a patient's conditions, an evaluation's
current disease)."""

log = logging.getLogger(__name__)

# Path score = weight of the drug-gene edge x weight of the disease-gene edge.
_DRUG_GENE_WEIGHT = {"target": 1.0, "enzyme": 0.5, "transporter": 0.4, "carrier": 0.3}
_DISEASE_GENE_WEIGHT = {"associated gene": 1.0}
_DGIDB_WEIGHT = 0.8
_OTHER_WEIGHT = 0.6

R = TypeVar("R", bound=Row)


def drug_entity(drug_id: str) -> str:
    """DRKG name of a DrugBank drug; ``InvalidInputError`` if the id is malformed."""
    if not isinstance(drug_id, str) or not _DRUG_ID.match(drug_id):
        raise InvalidInputError(f"Not a DrugBank id (DB#####): {str(drug_id)[:40]!r}")
    return f"Compound::{drug_id}"


def _disease_id(disease_id: str) -> str:
    if not isinstance(disease_id, str) or not _DISEASE_ID.match(disease_id):
        raise InvalidInputError(f"Not a disease id (MESH:… or DOID:…): {str(disease_id)[:40]!r}")
    return disease_id


@dataclass(frozen=True)
class ExclusionSet:
    """(drug, disease) pairs whose direct edges every template must hide.

    Diseases are compared by canonical concept, so masking ``(DB00619, DOID:8552)`` also
    hides imatinib's edges to ``MESH:D015464``. The evaluation harness uses this to mask
    the gold answers of the disease under evaluation.
    """

    pairs: frozenset[tuple[str, str]]  # (DrugBank id, canonical disease key)
    equivalences: DiseaseEquivalences

    @classmethod
    def build(
        cls, pairs: Iterable[tuple[str, str]], equivalences: DiseaseEquivalences
    ) -> ExclusionSet:
        """Normalise (DrugBank id, any DOID/MeSH id) pairs to canonical keys."""
        normalised = set()
        for drug, disease in pairs:
            drug_entity(drug)  # raises InvalidInputError on a malformed id
            normalised.add((drug, equivalences.canonical(_disease_id(disease))))
        return cls(frozenset(normalised), equivalences)

    def blocks(self, edge: Edge) -> bool:
        """True when ``edge`` directly links an excluded drug and disease (either direction)."""
        if not self.pairs:
            return False
        for drug, disease in ((edge.head, edge.tail), (edge.tail, edge.head)):
            if drug.startswith("Compound::") and disease.startswith("Disease::"):
                key = (drug[10:], self.equivalences.canonical(disease[9:]))
                if key in self.pairs:
                    return True
        return False


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _entity(iri: Any, label: Any = None) -> Entity:
    return Entity(id=vocab.drkg_name(str(iri)), label=_text(label))


def _edge(head: Entity, relation: Any, tail: Entity, forward: Any = True) -> Edge:
    rel = vocab.drkg_name(str(relation))
    if isinstance(forward, Literal):
        forward = forward.toPython()
    a, b = (head, tail) if forward else (tail, head)
    return Edge(head=a.id, relation=rel, tail=b.id)


def _category(iri: Any) -> str:
    return str(iri).rsplit("/", 1)[-1]


class KnowledgeGraph:
    """Read-only access to the drug/disease knowledge graph through fixed templates.

    Args:
        graph: an rdflib ``Graph`` over the local Oxigraph store or a remote endpoint.
        equivalences: DOID <-> MeSH equivalences (to find a disease's canonical concept).
        hierarchy: the MeSH disease trees (how related two diseases are); none by default.
        exclusions: (drug, disease) pairs to hide from every template.
    """

    def __init__(
        self,
        graph: Graph,
        equivalences: DiseaseEquivalences,
        exclusions: Iterable[tuple[str, str]] = (),
        hierarchy: DiseaseHierarchy = EMPTY,
    ) -> None:
        self.graph = graph
        self.equivalences = equivalences
        self.hierarchy = hierarchy
        self.exclusions = ExclusionSet.build(exclusions, equivalences)
        self._labels: dict[str, str | None] = {}
        self._disease_edges: OrderedDict[str, list[ResultRow]] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> KnowledgeGraph:
        """Open the configured store (local or ``KEDREC_SPARQL_ENDPOINT``)."""
        settings = settings or get_settings()
        pairs = iter_doid_mesh_xrefs(settings.data_file(bundle.DOID_MESH_XREFS))
        hierarchy = load_hierarchy(settings.data_dir / bundle.MESH_TREE_NUMBERS)
        return cls(open_graph(settings), DiseaseEquivalences.from_pairs(pairs), (), hierarchy)

    def with_exclusions(self, pairs: Iterable[tuple[str, str]]) -> KnowledgeGraph:
        """A view of the same store that also hides the given (drug, disease) pairs."""
        merged = {*self.exclusions.pairs, *((d, self.equivalences.canonical(x)) for d, x in pairs)}
        return KnowledgeGraph(self.graph, self.equivalences, merged, self.hierarchy)

    # --- plumbing ------------------------------------------------------------------------

    def _select(self, template: str, **bindings: str) -> list[ResultRow]:
        """Run a template with IRIs bound to its variables (never formatted into the text).

        At most :data:`MAX_ROWS` rows are read; a query that reaches the cap is logged.
        """
        bound = {name: URIRef(iri) for name, iri in bindings.items()}
        try:
            result = self.graph.query(template, initBindings=bound)
            rows = [row for row in islice(result, MAX_ROWS) if isinstance(row, ResultRow)]
            if len(rows) == MAX_ROWS:
                log.warning("a knowledge-graph query reached the %d-row cap", MAX_ROWS)
            return rows
        except StoreUnavailableError:
            raise
        except (OSError, ValueError) as exc:
            raise StoreUnavailableError(f"Knowledge-graph query failed: {exc}") from exc

    def _disease_gene_edges(self, concept: str) -> list[ResultRow]:
        """The gene edges of a concept's diseases (:data:`queries.DISEASE_GENE_EDGES`).

        Kept for the last :data:`DISEASE_EDGES_CACHED` concepts: every candidate's paths
        join them.
        """
        rows = self._disease_edges.get(concept)
        if rows is None:
            rows = self._select(queries.DISEASE_GENE_EDGES, concept=concept)
            self._disease_edges[concept] = rows
            while len(self._disease_edges) > DISEASE_EDGES_CACHED:
                self._disease_edges.popitem(last=False)
        return rows

    def _visible(self, rows: Iterable[R]) -> list[R]:
        return [row for row in rows if not any(map(self.exclusions.blocks, row.edges))]

    def concept_iri(self, disease_id: str) -> str:
        """IRI of the canonical concept of a DOID/MeSH disease id."""
        return vocab.concept_iri(self.equivalences.canonical(_disease_id(disease_id)))

    def drug_label(self, drug_id: str) -> str | None:
        """The display name of a drug, or None when the graph has none."""
        return self._label(drug_entity(drug_id))

    def disease_label(self, disease_id: str) -> str | None:
        """The display name of a disease (``MESH:D012772`` -> "Shock, Septic"), or None.

        A DOID or MeSH id the graph has no name for takes the name of an equivalent.
        """
        disease_id = _disease_id(disease_id)
        concept = self.equivalences.concept(disease_id)
        for candidate in (disease_id, concept.canonical, *sorted(concept.equivalents)):
            label = self._label(f"Disease::{candidate}")
            if label:
                return label
        return None

    def _label(self, entity: str) -> str | None:
        if entity not in self._labels:
            rows = self._select(queries.DRUG_LABEL, drug=vocab.entity_iri(entity))
            self._labels[entity] = _text(rows[0].label) if rows else None
        return self._labels[entity]

    # --- templates -----------------------------------------------------------------------

    def drugs_for_disease(self, disease_id: str) -> list[DrugIndication]:
        """Drugs that treat (or palliate) a disease, across all its DOID/MeSH equivalents.

        Sources: DrugBank ``treats``, Hetionet ``CtD`` / ``CpD`` (and GNBR in the full DRKG).
        Sorted by number of supporting edges, treats before palliates, then name.

        Example:
            >>> kg.drugs_for_disease("MESH:D003924")[0].drug.label  # doctest: +SKIP
            'Metformin'
        """
        rows = self._visible(
            DrugIndication(
                drug=(drug := _entity(r.drug, r.drugLabel)),
                disease=(disease := _entity(r.disease, r.diseaseLabel)),
                relation=vocab.drkg_name(str(r.rel)),
                category=_category(r.category),
                edges=[_edge(drug, r.rel, disease)],
            )
            for r in self._select(queries.DRUGS_FOR_DISEASE, concept=self.concept_iri(disease_id))
        )
        support: dict[str, int] = {}
        treats: dict[str, bool] = {}
        for row in rows:
            support[row.drug.id] = support.get(row.drug.id, 0) + 1
            treats[row.drug.id] = treats.get(row.drug.id, False) or row.category == "treats"
        return sorted(
            rows,
            key=lambda r: (
                -support[r.drug.id],
                not treats[r.drug.id],
                (r.drug.label or r.drug.id).lower(),
                r.drug.id,
                r.relation,
                r.disease.id,
            ),
        )

    def drug_genes(self, drug_id: str) -> list[GeneLink]:
        """Targets, enzymes, transporters and carriers of a drug (DrugBank, DGIdb)."""
        drug = Entity(id=drug_entity(drug_id))
        rows = [
            GeneLink(
                gene=(gene := _entity(r.gene, r.geneLabel)),
                relation=vocab.drkg_name(str(r.rel)),
                role=relations.gene_role(str(vocab.drkg_name(str(r.rel)))),
                edges=[_edge(drug, r.rel, gene, r.forward)],
            )
            for r in self._select(queries.DRUG_GENES, drug=vocab.entity_iri(drug.id))
        ]
        order = {role: i for i, role in enumerate(_DRUG_GENE_WEIGHT)}
        return sorted(
            self._visible(rows),
            key=lambda g: (order.get(g.role, 9), (g.gene.label or g.gene.id), g.relation),
        )

    def mechanism_paths(
        self, drug_id: str, disease_id: str, limit: int = 20
    ) -> list[MechanismPath]:
        """Drug -> gene -> disease paths, best first (bounded: at most ``limit`` paths).

        A path's score is the product of its edge weights: a DrugBank target counts more
        than an enzyme or transporter; a Hetionet disease-associated gene (DaG) more than
        an up/down-regulated one.
        """
        if not 1 <= limit <= 500:
            raise InvalidInputError("limit must be between 1 and 500")
        drug = Entity(id=drug_entity(drug_id), label=self.drug_label(drug_id))
        by_gene: dict[tuple[str, str | None], list[ResultRow]] = {}
        for r in self._disease_gene_edges(self.concept_iri(disease_id)):
            by_gene.setdefault((str(r.gene), _text(r.geneLabel)), []).append(r)
        paths = []
        for d in self._select(queries.DRUG_GENES, drug=vocab.entity_iri(drug.id)):
            for r in by_gene.get((str(d.gene), _text(d.geneLabel)), ()):
                gene = _entity(r.gene, r.geneLabel)
                disease = _entity(r.disease, r.diseaseLabel)
                first = _edge(drug, d.rel, gene, d.forward)
                second = _edge(disease, r.rel, gene, r.forward)
                score = _weight(first.relation, _DRUG_GENE_WEIGHT) * _weight(
                    second.relation, _DISEASE_GENE_WEIGHT
                )
                paths.append(
                    MechanismPath(
                        drug=drug,
                        gene=gene,
                        disease=disease,
                        score=round(score, 4),
                        edges=[first, second],
                    )
                )
        paths = self._visible(paths)
        actions: dict[str, set[str]] = {}
        for path in paths:  # the DGIdb edge saying what the drug does, if any
            source, name, _, _ = relations.parse_relation(path.edges[0].relation)
            if source == "DGIDB" and name != "OTHER":
                actions.setdefault(path.gene.id, set()).add(name)
        paths.sort(key=lambda p: (-p.score, p.gene.label or p.gene.id, p.disease.id, str(p.edges)))
        best: dict[tuple[str, str], MechanismPath] = {}
        for path in paths:  # one path per (gene, disease): the best-scored pair of edges
            path.actions = sorted(actions.get(path.gene.id, ()))
            best.setdefault((path.gene.id, path.disease.id), path)
        return list(best.values())[:limit]

    def drugs_targeting_disease_genes(
        self, disease_id: str, limit: int = 20
    ) -> list[MechanismCandidate]:
        """Drugs acting on genes associated with a disease, by number of shared genes."""
        if not 1 <= limit <= 200:
            raise InvalidInputError("limit must be between 1 and 200")
        rows = self._select(
            queries.DRUGS_TARGETING_DISEASE_GENES, concept=self.concept_iri(disease_id)
        )
        return [
            MechanismCandidate(drug=_entity(r.drug, r.drugLabel), shared_genes=int(r.genes))
            for r in rows[:limit]
        ]

    def interactions_among(self, drug_ids: Sequence[str]) -> list[Interaction]:
        """Known interactions between every pair of the given drugs.

        Uses DRKG's DDI edges (ogbl-ddi) and DrugBank's typed DDIs, whose sentence is
        rendered with the drug names in the right reading direction.

        Example:
            >>> kg.interactions_among(["DB00682", "DB00945"])[0].description  # doctest: +SKIP
            'Acetylsalicylic acid may increase the anticoagulant activities of Warfarin.'
        """
        unique = list(dict.fromkeys(drug_ids))
        if len(unique) > MAX_INTERACTION_DRUGS:
            raise InvalidInputError(
                f"At most {MAX_INTERACTION_DRUGS} drugs can be checked at once (got {len(unique)})."
            )
        drugs = [Entity(id=drug_entity(d), label=self.drug_label(d)) for d in unique]
        found: list[Interaction] = []
        for a, b in combinations(drugs, 2):
            pair: list[Interaction] = []
            rows = self._select(
                queries.INTERACTIONS_BETWEEN,
                a=vocab.entity_iri(a.id),
                b=vocab.entity_iri(b.id),
            )
            for r in rows:
                edge = _edge(a, r.rel, b, r.forward)
                description = None
                if r.template is not None:
                    description = _render_ddi(
                        str(r.template), int(r.slot), edge, {a.id: a, b.id: b}
                    )
                pair.append(
                    Interaction(
                        drug_a=a,
                        drug_b=b,
                        relation=edge.relation,
                        description=description,
                        edges=[edge],
                    )
                )
            # Typed (described) interactions first, then a stable order.
            found += sorted(pair, key=lambda i: (i.description is None, i.relation, str(i.edges)))
        return self._visible(found)

    def disease_genes(self, disease_id: str, limit: int = 50) -> list[GeneLink]:
        """Genes associated with, up- or down-regulated in a disease."""
        rows = self._select(queries.DISEASE_GENES, concept=self.concept_iri(disease_id))
        links = [
            GeneLink(
                gene=(gene := _entity(r.gene, r.geneLabel)),
                relation=vocab.drkg_name(str(r.rel)),
                role=relations.gene_role(vocab.drkg_name(str(r.rel))),
                edges=[_edge(_entity(r.disease), r.rel, gene, r.forward)],
            )
            for r in rows
        ]
        links.sort(
            key=lambda g: (
                g.role != "associated gene",
                g.gene.label or g.gene.id,
                g.relation,
                str(g.edges),
            )
        )
        return self._visible(links)[:limit]

    def disease_symptoms(self, disease_id: str) -> list[DiseaseSymptom]:
        """Symptoms that present with a disease (Hetionet DpS)."""
        rows = self._select(queries.DISEASE_SYMPTOMS, concept=self.concept_iri(disease_id))
        symptoms = [
            DiseaseSymptom(
                disease=(disease := _entity(r.disease, r.diseaseLabel)),
                symptom=(symptom := _entity(r.symptom, r.symptomLabel)),
                edges=[_edge(disease, r.rel, symptom)],
            )
            for r in rows
        ]
        return sorted(
            self._visible(symptoms),
            key=lambda s: (s.symptom.label or s.symptom.id, s.symptom.id, s.disease.id),
        )

    def drug_indications(self, drug_id: str) -> list[DrugIndication]:
        """The visible indications (treats / palliates edges) of one drug, by disease name."""
        drug = Entity(id=drug_entity(drug_id), label=self.drug_label(drug_id))
        indications = self._visible(
            DrugIndication(
                drug=drug,
                disease=(disease := _entity(r.disease, r.diseaseLabel)),
                relation=vocab.drkg_name(str(r.rel)),
                category=_category(r.category),
                edges=[_edge(drug, r.rel, disease)],
            )
            for r in self._select(queries.DRUG_INDICATIONS, drug=vocab.entity_iri(drug.id))
        )
        return sorted(
            indications,
            key=lambda i: (i.category, i.disease.label or i.disease.id, i.disease.id, i.relation),
        )

    def related_indications(self, drug_id: str, disease_id: str) -> list[RelatedIndication]:
        """The drug's visible indications for *other* diseases, the most related first.

        Each is scored by how close its disease sits to ``disease_id`` in the MeSH disease
        trees (:class:`~kedrec_agent.kg.hierarchy.DiseaseHierarchy`; 0.0 when unrelated or
        without a tree). Indications of ``disease_id`` itself (any DOID/MeSH equivalent)
        are left out: they are direct evidence, and masked where the harness masks them.

        Example:
            >>> kg.related_indications("DB05351", "MESH:D004942")[0].ancestor  # doctest: +SKIP
            'Esophageal Diseases'
        """
        concept = self.equivalences.concept(_disease_id(disease_id))
        related: dict[str, RelatedIndication] = {}
        for row in self.drug_indications(drug_id):
            other = self.equivalences.concept(row.disease.local_id)
            if other.canonical == concept.canonical or other.canonical in related:
                continue
            relation = self.hierarchy.relation(concept.equivalents, other.equivalents)
            related[other.canonical] = RelatedIndication(
                drug=row.drug,
                disease=row.disease,
                relation=row.relation,
                score=relation.score,
                ancestor=relation.ancestor,
                edges=row.edges,
            )
        return sorted(related.values(), key=lambda r: (-r.score, r.disease.label or r.disease.id))

    def drug_facts(self, drug_id: str) -> DrugFacts:
        """Label, genes, indications and number of interacting drugs of one drug."""
        drug = Entity(id=drug_entity(drug_id), label=self.drug_label(drug_id))
        count = self._select(queries.INTERACTION_COUNT, drug=vocab.entity_iri(drug.id))
        return DrugFacts(
            drug=drug,
            genes=self.drug_genes(drug_id),
            indications=self.drug_indications(drug_id),
            interacting_drugs=int(count[0].n) if count else 0,
        )


def _weight(relation: str, table: Mapping[str, float]) -> float:
    if relation.startswith("DGIDB::"):
        return _DGIDB_WEIGHT
    return table.get(relations.gene_role(relation), _OTHER_WEIGHT)


def _render_ddi(template: str, slot: int, edge: Edge, drugs: Mapping[str, Entity]) -> str:
    """Fill a DrugBank DDI template; slot 2 swaps the reading direction (data README)."""
    first, second = drugs[edge.head], drugs[edge.tail]
    if slot == 2:
        first, second = second, first
    name1 = first.label or first.local_id
    name2 = second.label or second.local_id
    return template.replace("#Drug1", name1).replace("#Drug2", name2)
