"""Penicillin allergy and the other beta-lactams: a caution, not a veto.

Cross-reactivity between penicillins and cephalosporins is uncommon (about 1-2%, mostly
with first-generation drugs sharing a side chain) and lower still with carbapenems (under
1%); current allergy guidance allows them after a non-severe penicillin reaction. So a
cephalosporin or carbapenem for a penicillin-allergic patient is not withheld: it carries
a warning, and a similarly supported alternative of another class goes before it (the
same rule as a major interaction, :func:`kedrec_agent.reasoning.ranking.ranked_candidates`).

Classes come from WHO ATC codes (``safety/atc_drugbank42.tsv`` via
:class:`~kedrec_agent.ranking.tables.DrugTables`): penicillins J01C, cephalosporins
J01DB-J01DE and J01DI, carbapenems J01DH. The allergy is to penicillins when it is the MeSH
class Penicillins or a drug in it (MeSH tree or ATC J01C).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kedrec_agent.ranking.tables import DrugTables
from kedrec_agent.safety.classes import DrugClasses

PENICILLINS = "MESH:D010406"
"""The MeSH class Penicillins."""

BETA_LACTAMS = {
    "ATC:J01DB": "a cephalosporin",
    "ATC:J01DC": "a cephalosporin",
    "ATC:J01DD": "a cephalosporin",
    "ATC:J01DE": "a cephalosporin",
    "ATC:J01DI": "a cephalosporin",
    "ATC:J01DH": "a carbapenem",
}
"""ATC level-4 groups that may cross-react with a penicillin allergy, in words."""


def penicillin_allergy(
    allergies: Sequence[str],
    name_of: Callable[[str], str | None],
    classes: DrugClasses,
    tables: DrugTables,
) -> str | None:
    """The name of the patient's penicillin allergen, if any of ``allergies`` is one."""
    for allergy in allergies:
        name = name_of(allergy) or allergy
        if allergy == PENICILLINS or classes.member_of(name, PENICILLINS):
            return name
        if any(c.startswith("ATC:J01C") for c in tables.classes_of(allergy)):
            return name
    return None


def cross_reactivity(
    drug_id: str, drug: str, allergen: str | None, tables: DrugTables
) -> str | None:
    """The caution for ``drug`` when the patient is allergic to ``allergen`` (a penicillin).

    Args:
        drug_id: the candidate's DrugBank id.
        drug: its name.
        allergen: the penicillin the patient is allergic to (:func:`penicillin_allergy`),
            or ``None``.
        tables: the drugs' ATC groups.
    """
    if allergen is None:
        return None
    kind = next(
        (BETA_LACTAMS[c] for c in sorted(tables.classes_of(drug_id)) if c in BETA_LACTAMS), None
    )
    if kind is None:
        return None
    return (
        f"Allergy caution: {drug} is {kind} and the patient is allergic to {allergen}; "
        "cross-reactivity is uncommon (about 1-2% for cephalosporins, under 1% for "
        "carbapenems) but possible: check the reaction history, and avoid it after "
        "anaphylaxis or a severe reaction."
    )
