"""Which of the graph's candidates the reasoning model may choose.

Left out before the model sees them, so that a safe alternative takes their place rather
than a warning: the candidates of a condition a current medication already treats (the
answer says so), drugs the patient takes, drugs the patient is allergic to (directly or by
MeSH class, unless they may only cross-react: those are cautioned), drugs contraindicated
for the patient (in pregnancy, :func:`~kedrec_agent.safety.pregnancy.contraindication`),
and adjuncts that are
never given on their own (a beta-lactamase inhibitor such as clavulanic acid, a renal
dehydropeptidase inhibitor such as cilastatin, a decarboxylase inhibitor such as carbidopa:
the graph lists them as treating what their partner drug treats).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kedrec_agent.kg.evidence import CandidateDrug, KGEvidence
from kedrec_agent.ranking.tables import DrugTables
from kedrec_agent.safety.checks import SafetyWarning, allergy_conflict
from kedrec_agent.safety.classes import DrugClasses
from kedrec_agent.safety.crossreactivity import allergens, cross_reactivity

ADJUNCT_CLASSES = {
    "EPC:N0000175930": "a beta-lactamase inhibitor",
    "EPC:N0000175514": "a renal dehydropeptidase inhibitor",
    "EPC:N0000175754": "an aromatic amino acid decarboxylation inhibitor",
}
"""FDA established pharmacologic classes (DrugCentral) of drugs given only with a partner."""


@dataclass
class Usable:
    """The candidates the model may choose, and what was left out and why."""

    evidence: KGEvidence
    vetoes: list[SafetyWarning] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


ADJUNCT_ATC = "ATC:J01CG"
"""The ATC group of beta-lactamase inhibitors: an ATC code there is no use of its own."""


def adjunct_class(drug_id: str, tables: DrugTables) -> str | None:
    """The class, in words, of a drug given only with a partner drug (``None``: not one).

    A drug with an ATC code of its own (outside :data:`ADJUNCT_ATC`) is given alone, whatever
    its class: DrugCentral files levodopa (N04BA01) and dopamine (C01CA04) as aromatic amino
    acid decarboxylation inhibitors, after their combination products with carbidopa.
    """
    classes = sorted(tables.classes_of(drug_id))
    if any(c.startswith("ATC:") and c != ADJUNCT_ATC for c in classes):
        return None
    return next((ADJUNCT_CLASSES[c] for c in classes if c in ADJUNCT_CLASSES), None)


def usable_candidates(
    evidence: KGEvidence,
    allergies: Sequence[str],
    name_of: Callable[[str], str | None],
    classes: DrugClasses,
    tables: DrugTables,
    contraindicated: Callable[[str, str], str | None] = lambda drug, name: None,
) -> Usable:
    """The candidates the model may choose, a veto per allergy or contraindication, notes.

    A note says which adjuncts were left out.

    Args:
        evidence: the graph's evidence for the patient.
        allergies: allergen ids (DrugBank drugs or MeSH classes).
        name_of: display name of an id.
        classes: the MeSH drug classes.
        tables: the drugs' pharmacologic classes (adjuncts).
        contraindicated: ``(drug id, name) ->`` why the patient must not have it, or None.
    """
    treated = evidence.treated()
    allergic = allergens(allergies, name_of, classes, tables)
    kept: list[CandidateDrug] = []
    vetoes: dict[str, SafetyWarning] = {}
    adjuncts: dict[str, str] = {}
    for cand in evidence.candidates:
        drug = cand.drug.local_id
        if cand.condition in treated or cand.already_taking:
            continue
        name = cand.drug.label or drug
        if (kind := adjunct_class(drug, tables)) is not None:
            adjuncts[drug] = f"{name} was not proposed: {kind}, given only with a partner drug."
            continue
        # a drug that may only cross-react (a thiazide, "allergic to sulfa") is cautioned
        cross = cross_reactivity(drug, name, allergic, tables, classes) is not None
        conflict = next(
            (
                m
                for a in allergies
                if (m := allergy_conflict(drug, name, a, name_of, classes, cross))
            ),
            None,
        )
        if conflict is not None:
            vetoes.setdefault(
                drug,
                SafetyWarning(kind="allergy", severity="veto", drug_id=drug, message=conflict),
            )
        elif (why := contraindicated(drug, name)) is not None:
            vetoes.setdefault(
                drug, SafetyWarning(kind="pregnancy", severity="veto", drug_id=drug, message=why)
            )
        else:
            kept.append(cand)
    usable = KGEvidence(candidates=kept, interactions=evidence.interactions, ranked=evidence.ranked)
    return Usable(usable, list(vetoes.values()), list(adjuncts.values()))
