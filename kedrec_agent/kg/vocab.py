"""IRIs of the project's RDF vocabulary: entities, relations and the few schema terms.

Every DRKG entity (``Compound::DB00619``) and relation (``DRUGBANK::treats::Compound:Disease``)
gets one IRI under :data:`BASE`; the DRKG name is kept, percent-encoded, so that an IRI can be
turned back into the DRKG name losslessly.

Example:
    >>> entity_iri("Disease::MESH:D015464")
    'https://w3id.org/kedrec/entity/Disease::MESH:D015464'
    >>> drkg_name(entity_iri("Side Effect::C0000727"))
    'Side Effect::C0000727'
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote, unquote

BASE = "https://w3id.org/kedrec/"
ENTITY = BASE + "entity/"
RELATION = BASE + "relation/"
DDI_TYPE = BASE + "ddi-type/"
VOCAB = BASE + "vocab/"

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
RDFS_COMMENT = "http://www.w3.org/2000/01/rdf-schema#comment"
SKOS_EXACT_MATCH = "http://www.w3.org/2004/02/skos/core#exactMatch"

# Schema terms (kgv: in the query templates).
CANONICAL = VOCAB + "canonical"  # disease entity -> its canonical disease concept
CATEGORY = VOCAB + "category"  # relation -> what it means for the templates (see relations.py)
TEMPLATE = VOCAB + "template"  # typed DDI relation -> sentence template with #Drug1/#Drug2
SUBJECT_SLOT = VOCAB + "subjectSlot"  # typed DDI relation -> 1, 2 (swap) or 3 (symmetric)
INTERACTION_TYPE = VOCAB + "InteractionType"
RELATION_CLASS = VOCAB + "Relation"
DISEASE_CONCEPT = BASE + "disease/"  # canonical disease concepts: disease/MESH:D015464

_SAFE = ":"  # keep DRKG's '::' readable; everything else that IRIs forbid is %-encoded


@lru_cache(maxsize=1 << 18)
def entity_iri(name: str) -> str:
    """IRI of a DRKG entity name (``Type::id``)."""
    return ENTITY + quote(name, safe=_SAFE)


def relation_iri(name: str) -> str:
    """IRI of a DRKG relation name."""
    return RELATION + quote(name, safe=_SAFE)


def type_iri(entity_type: str) -> str:
    """IRI of an entity type (``Compound``, ``Side Effect``...)."""
    return VOCAB + quote(entity_type.replace(" ", ""), safe="")


def concept_iri(canonical_key: str) -> str:
    """IRI of a canonical disease concept (``MESH:D015464``)."""
    return DISEASE_CONCEPT + quote(canonical_key, safe=_SAFE)


def category_iri(category: str) -> str:
    """IRI of a relation category (see :mod:`kedrec_agent.kg.relations`)."""
    return VOCAB + "category/" + category


def drkg_name(iri: str) -> str:
    """Inverse of :func:`entity_iri` / :func:`relation_iri`.

    Typed DDI relations (DrugBank interaction type N) are named
    ``DRUGBANK::ddi-type-N::Compound:Compound``.
    """
    if iri.startswith(DDI_TYPE):
        return f"DRUGBANK::ddi-type-{unquote(iri[len(DDI_TYPE) :])}::Compound:Compound"
    for prefix in (ENTITY, RELATION, DISEASE_CONCEPT):
        if iri.startswith(prefix):
            return unquote(iri[len(prefix) :])
    return iri
