"""What each DRKG relation means for the query templates.

DRKG names relations ``source::name::HeadType:TailType``; the category records the meaning
*and* the direction, so that templates work on the bundle's subset and on the full
``drkg.tsv`` (GNBR, STRING, bioarx... relations) alike.

Example:
    >>> categorize("DGIDB::INHIBITOR::Gene:Compound")
    'gene_drug'
    >>> categorize("Hetionet::CtD::Compound:Disease")
    'treats'
"""

from __future__ import annotations

TREATS = "treats"
PALLIATES = "palliates"
DRUG_DISEASE_OTHER = "drug_disease_other"
DRUG_GENE = "drug_gene"  # Compound -> Gene
GENE_DRUG = "gene_drug"  # Gene -> Compound
DISEASE_GENE = "disease_gene"  # Disease -> Gene
GENE_DISEASE = "gene_disease"  # Gene -> Disease
DISEASE_SYMPTOM = "disease_symptom"
DISEASE_DISEASE = "disease_disease"
DRUG_INTERACTION = "drug_interaction"  # DRKG's untyped DDI edges
TYPED_INTERACTION = "typed_interaction"  # DrugBank typed DDI, with a sentence template
OTHER = "other"

DDI_RELATION = "DRUGBANK::ddi-interactor-in::Compound:Compound"

# Relation names (the middle part) that mean "treats" / "palliates" in DRKG's sources:
# DrugBank treats, Hetionet CtD/CpD, GNBR T (treatment) / Pa (alleviates) / Pr (prevents).
_TREATS = {"treats", "CtD", "T"}
_PALLIATES = {"CpD", "Pa", "Pr"}

# Gene roles for display, from the relation name.
GENE_ROLES = {
    "target": "target",
    "enzyme": "enzyme",
    "transporter": "transporter",
    "carrier": "carrier",
    "DaG": "associated gene",
    "DuG": "upregulated in disease",
    "DdG": "downregulated in disease",
}


def parse_relation(relation: str) -> tuple[str, str, str, str]:
    """Split ``source::name::Head:Tail`` into (source, name, head type, tail type).

    Relations that do not follow the pattern get empty types.
    """
    parts = relation.split("::")
    if len(parts) >= 3 and ":" in parts[-1]:
        head, _, tail = parts[-1].partition(":")
        return parts[0], "::".join(parts[1:-1]), head, tail
    return (parts[0], parts[-1], "", "") if len(parts) > 1 else ("", relation, "", "")


def categorize(relation: str) -> str:
    """The template category of a DRKG relation name."""
    if relation == DDI_RELATION:
        return DRUG_INTERACTION
    _, name, head, tail = parse_relation(relation)
    pair = (head, tail)
    if pair == ("Compound", "Disease"):
        if name in _TREATS:
            return TREATS
        return PALLIATES if name in _PALLIATES else DRUG_DISEASE_OTHER
    return {
        ("Compound", "Gene"): DRUG_GENE,
        ("Gene", "Compound"): GENE_DRUG,
        ("Disease", "Gene"): DISEASE_GENE,
        ("Gene", "Disease"): GENE_DISEASE,
        ("Disease", "Symptom"): DISEASE_SYMPTOM,
        ("Disease", "Disease"): DISEASE_DISEASE,
    }.get(pair, OTHER)


def gene_role(relation: str) -> str:
    """Human-readable role of a drug-gene or disease-gene relation (``target``, ``enzyme``...)."""
    _, name, _, _ = parse_relation(relation)
    return GENE_ROLES.get(name, name.lower())
