"""SPARQL query templates. Text only: values are bound by the caller, never formatted in.

Bound variables (``initBindings``): ``?concept`` a canonical disease concept IRI, ``?drug``
a compound IRI, ``?a``/``?b`` two compound IRIs. Every row carries the DRKG relation of
each edge it stands on, so callers can cite the source triple and mask edges.
"""

from __future__ import annotations

from kedrec_agent.kg import vocab

PREFIXES = f"""PREFIX kgv: <{vocab.VOCAB}>
PREFIX cat: <{vocab.VOCAB}category/>
PREFIX rdfs: <{vocab.RDFS_LABEL.rsplit("#", 1)[0]}#>
"""

# Drugs with a treats / palliates edge to any disease of the concept (all DOID/MeSH ids).
DRUGS_FOR_DISEASE = (
    PREFIXES
    + """SELECT ?concept ?drug ?drugLabel ?rel ?category ?disease ?diseaseLabel WHERE {
  ?disease kgv:canonical ?concept .
  ?drug ?rel ?disease .
  ?rel kgv:category ?category .
  FILTER(?category IN (cat:treats, cat:palliates))
  OPTIONAL { ?drug rdfs:label ?drugLabel }
  OPTIONAL { ?disease rdfs:label ?diseaseLabel }
}"""
)

# Genes a drug acts on (DrugBank target/enzyme/transporter/carrier, DGIdb in either direction).
DRUG_GENES = (
    PREFIXES
    + """SELECT ?drug ?gene ?geneLabel ?rel ?forward WHERE {
  { ?drug ?rel ?gene . ?rel kgv:category cat:drug_gene . BIND(true AS ?forward) }
  UNION
  { ?gene ?rel ?drug . ?rel kgv:category cat:gene_drug . BIND(false AS ?forward) }
  OPTIONAL { ?gene rdfs:label ?geneLabel }
}"""
)

# Gene edges of every disease of the concept, with the diseases' labels: one side of the
# drug -> gene -> disease paths (joined on the gene with DRUG_GENES in Python, which
# Oxigraph's planner makes 20-40x cheaper than the two-hop pattern per drug).
DISEASE_GENE_EDGES = (
    PREFIXES
    + """SELECT ?concept ?disease ?diseaseLabel ?gene ?geneLabel ?rel ?forward WHERE {
  ?disease kgv:canonical ?concept .
  { ?disease ?rel ?gene . ?rel kgv:category cat:disease_gene . BIND(true AS ?forward) }
  UNION
  { ?gene ?rel ?disease . ?rel kgv:category cat:gene_disease . BIND(false AS ?forward) }
  OPTIONAL { ?gene rdfs:label ?geneLabel }
  OPTIONAL { ?disease rdfs:label ?diseaseLabel }
}"""
)

# The same paths as one two-hop pattern per (drug, concept): what mechanism_paths asked before
# it joined in Python; kept as the reference the tests and bench/kg.py check the join against.
MECHANISM_PATHS_REFERENCE = (
    PREFIXES
    + """SELECT ?drug ?concept ?gene ?geneLabel ?r1 ?f1 ?disease ?diseaseLabel ?r2 ?f2 WHERE {
  { ?drug ?r1 ?gene . ?r1 kgv:category cat:drug_gene . BIND(true AS ?f1) }
  UNION
  { ?gene ?r1 ?drug . ?r1 kgv:category cat:gene_drug . BIND(false AS ?f1) }
  ?disease kgv:canonical ?concept .
  { ?disease ?r2 ?gene . ?r2 kgv:category cat:disease_gene . BIND(true AS ?f2) }
  UNION
  { ?gene ?r2 ?disease . ?r2 kgv:category cat:gene_disease . BIND(false AS ?f2) }
  OPTIONAL { ?gene rdfs:label ?geneLabel }
  OPTIONAL { ?disease rdfs:label ?diseaseLabel }
}"""
)

# Drugs acting on genes of the disease, by number of shared genes (candidates that need no
# drug-disease edge, so they survive evaluation masking).
DRUGS_TARGETING_DISEASE_GENES = (
    PREFIXES
    + f"""SELECT ?concept ?drug (SAMPLE(?label) AS ?drugLabel) (COUNT(DISTINCT ?gene) AS ?genes)
WHERE {{
  ?disease kgv:canonical ?concept .
  {{ ?disease ?r2 ?gene . ?r2 kgv:category cat:disease_gene }}
  UNION
  {{ ?gene ?r2 ?disease . ?r2 kgv:category cat:gene_disease }}
  {{ ?drug ?r1 ?gene . ?r1 kgv:category cat:drug_gene }}
  UNION
  {{ ?gene ?r1 ?drug . ?r1 kgv:category cat:gene_drug }}
  FILTER(STRSTARTS(STR(?drug), "{vocab.ENTITY}Compound::DB"))
  OPTIONAL {{ ?drug rdfs:label ?label }}
}}
GROUP BY ?concept ?drug
ORDER BY DESC(?genes) ?drug
LIMIT 200"""
)

# Interactions between two drugs: DRKG's untyped DDI edges and DrugBank's typed ones.
INTERACTIONS_BETWEEN = (
    PREFIXES
    + """SELECT ?a ?b ?rel ?forward ?category ?template ?slot WHERE {
  { ?a ?rel ?b . BIND(true AS ?forward) }
  UNION
  { ?b ?rel ?a . BIND(false AS ?forward) }
  ?rel kgv:category ?category .
  FILTER(?category IN (cat:drug_interaction, cat:typed_interaction))
  OPTIONAL { ?rel kgv:template ?template ; kgv:subjectSlot ?slot }
}"""
)

# Genes of a disease (Hetionet DaG/DuG/DdG; GNBR gene->disease in the full DRKG).
DISEASE_GENES = (
    PREFIXES
    + """SELECT ?concept ?disease ?gene ?geneLabel ?rel ?forward WHERE {
  ?disease kgv:canonical ?concept .
  { ?disease ?rel ?gene . ?rel kgv:category cat:disease_gene . BIND(true AS ?forward) }
  UNION
  { ?gene ?rel ?disease . ?rel kgv:category cat:gene_disease . BIND(false AS ?forward) }
  OPTIONAL { ?gene rdfs:label ?geneLabel }
}
LIMIT 5000"""
)

DISEASE_SYMPTOMS = (
    PREFIXES
    + """SELECT ?concept ?disease ?diseaseLabel ?symptom ?symptomLabel ?rel WHERE {
  ?disease kgv:canonical ?concept .
  OPTIONAL { ?disease rdfs:label ?diseaseLabel }
  ?disease ?rel ?symptom .
  ?rel kgv:category cat:disease_symptom .
  OPTIONAL { ?symptom rdfs:label ?symptomLabel }
}"""
)

# Indications of a drug (any disease), with each disease's concept for masking.
DRUG_INDICATIONS = (
    PREFIXES
    + """SELECT ?drug ?disease ?diseaseLabel ?concept ?rel ?category WHERE {
  ?drug ?rel ?disease .
  ?rel kgv:category ?category .
  FILTER(?category IN (cat:treats, cat:palliates))
  OPTIONAL { ?disease kgv:canonical ?concept }
  OPTIONAL { ?disease rdfs:label ?diseaseLabel }
}"""
)

DRUG_LABEL = (
    PREFIXES
    + """SELECT ?drug ?label WHERE {
  ?drug rdfs:label ?label .
}"""
)

INTERACTION_COUNT = (
    PREFIXES
    + """SELECT ?drug (COUNT(DISTINCT ?other) AS ?n) WHERE {
  { ?drug ?rel ?other } UNION { ?other ?rel ?drug }
  ?rel kgv:category ?category .
  FILTER(?category IN (cat:drug_interaction, cat:typed_interaction))
}
GROUP BY ?drug"""
)
