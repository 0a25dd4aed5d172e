"""Allergy cross-reactivity: a caution, not a veto.

Two allergies are checked, each against the drug groups that may cross-react with it:

* **Penicillins** and the other beta-lactams. Cross-reactivity between penicillins and
  cephalosporins is uncommon (about 1-2%, mostly with first-generation drugs sharing a
  side chain) and lower still with carbapenems (under 1%); current allergy guidance allows
  them after a non-severe penicillin reaction.
* **Sulfonamides** (a sulfonamide antibiotic) and the non-antibiotic sulfonamides:
  sulfonylureas, thiazide and thiazide-like diuretics, sulfonamide loop diuretics.
  Cross-reactivity is unlikely (Strom et al., NEJM 2003: a sulfa-allergic patient reacts
  to other drugs too, not to the sulfonamide group), but the sulfonylureas' labels
  (glimepiride, glyburide) list a sulfonamide allergy as a contraindication.

So such a drug for an allergic patient is not withheld: it carries a warning, and a
similarly supported alternative of another class goes before it (the same rule as a major
interaction, :func:`kedrec_agent.reasoning.ranking.ranked_candidates`).

Classes come from WHO ATC codes (``safety/atc_drugbank42.tsv`` via
:class:`~kedrec_agent.ranking.tables.DrugTables`). The allergy is to a group when it is
the group's MeSH class or a drug in it (MeSH tree or ATC).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kedrec_agent.ranking.tables import DrugTables
from kedrec_agent.safety.classes import DrugClasses

PENICILLINS = "MESH:D010406"
"""The MeSH class Penicillins."""

SULFONAMIDES = "MESH:D013449"
"""The MeSH class Sulfonamides ("sulfa drugs")."""


@dataclass(frozen=True, eq=False)  # hashed by identity: a key of :data:`Allergens`
class AllergyRule:
    """An allergy and the drug groups that may cross-react with it.

    Attributes:
        mesh_class: the allergy's MeSH class.
        atc_prefix: the ATC code prefix of the drugs in it (an allergy to one of them).
        groups: cross-reacting ATC level-4 groups, each in words.
        risk: how likely a reaction is, and what to do, for the warning.
    """

    mesh_class: str
    atc_prefix: str
    groups: dict[str, str]
    risk: str


RULES = (
    AllergyRule(
        PENICILLINS,
        "ATC:J01C",
        {
            "ATC:J01DB": "a cephalosporin",
            "ATC:J01DC": "a cephalosporin",
            "ATC:J01DD": "a cephalosporin",
            "ATC:J01DE": "a cephalosporin",
            "ATC:J01DI": "a cephalosporin",
            "ATC:J01DH": "a carbapenem",
        },
        "cross-reactivity is uncommon (about 1-2% for cephalosporins, under 1% for "
        "carbapenems) but possible: check the reaction history, and avoid it after "
        "anaphylaxis or a severe reaction.",
    ),
    AllergyRule(
        SULFONAMIDES,
        "ATC:J01E",
        {
            "ATC:A10BB": "a sulfonylurea (a non-antibiotic sulfonamide)",
            "ATC:C03AA": "a thiazide (a non-antibiotic sulfonamide)",
            "ATC:C03BA": "a thiazide-like diuretic (a non-antibiotic sulfonamide)",
            "ATC:C03CA": "a sulfonamide loop diuretic",
        },
        "cross-reactivity with sulfonamide antibiotics is unlikely, but the sulfonylureas' "
        "labels list a sulfonamide allergy as a contraindication: check the reaction "
        "history, and prefer another class after a severe reaction.",
    ),
)
"""The allergies checked (see the module)."""

Allergens = dict[AllergyRule, str]
"""Each rule the patient's allergies trigger, with the allergen's name."""


def allergens(
    allergies: Sequence[str],
    name_of: Callable[[str], str | None],
    classes: DrugClasses,
    tables: DrugTables,
) -> Allergens:
    """The rules the patient's ``allergies`` (entity ids) trigger, with each allergen's name."""
    found: Allergens = {}
    for allergy in allergies:
        name = name_of(allergy) or allergy
        for rule in RULES:
            if rule in found:
                continue
            if (
                allergy == rule.mesh_class
                or classes.member_of(name, rule.mesh_class)
                or any(c.startswith(rule.atc_prefix) for c in tables.classes_of(allergy))
            ):
                found[rule] = name
    return found


def cross_reactivity(drug_id: str, drug: str, found: Allergens, tables: DrugTables) -> str | None:
    """The caution for ``drug`` given the patient's :func:`allergens` (``None``: none).

    Args:
        drug_id: the candidate's DrugBank id.
        drug: its name.
        found: the allergy rules the patient triggers, with the allergens' names.
        tables: the drugs' ATC groups.
    """
    groups = sorted(tables.classes_of(drug_id))
    for rule, allergen in found.items():
        kind = next((rule.groups[c] for c in groups if c in rule.groups), None)
        if kind is not None:
            return (
                f"Allergy caution: {drug} is {kind} and the patient is allergic to "
                f"{allergen}; {rule.risk}"
            )
    return None
