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

Classes come from WHO ATC codes and DrugCentral's EPC classes (``safety/atc_drugbank42.tsv``
and ``safety/drugcentral2016_pharmacologic_classes.tsv`` via
:class:`~kedrec_agent.ranking.tables.DrugTables`; the ATC table misses hydrochlorothiazide).
The allergy is to a group when it is the group's MeSH class or a drug in it (MeSH tree, ATC
or EPC). A sulfonamide outside the antibiotics and the listed groups (furosemide, in MeSH's
Sulfonamides without an ATC code in the bundle) is cross-reactive too.
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
        own: class id prefixes (ATC, DrugCentral EPC) of the drugs the allergy is to.
        groups: cross-reacting classes (ATC level 4, EPC), each in words.
        risk: how likely a reaction is, and what to do, for the warning.
        members: if set, how to name a drug of the MeSH class that is in none of ``own``'s
            classes: it is cross-reactive, not the allergen (furosemide is in MeSH's
            Sulfonamides; a "sulfa" allergy is to the antibiotics).
    """

    mesh_class: str
    own: tuple[str, ...]
    groups: dict[str, str]
    risk: str
    members: str | None = None


SULFA_ANTIBIOTICS = ("ATC:J01E", "EPC:N0000175503", "EPC:N0000175504")
"""Sulfonamide antibacterials: ATC J01E, DrugCentral's Sulfonamide Antibacterial and
Sulfonamide Antimicrobial classes."""

RULES = (
    AllergyRule(
        PENICILLINS,
        ("ATC:J01C",),
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
        SULFA_ANTIBIOTICS,
        {
            "ATC:A10BB": "a sulfonylurea (a non-antibiotic sulfonamide)",
            "EPC:N0000175608": "a sulfonylurea (a non-antibiotic sulfonamide)",
            "ATC:C03AA": "a thiazide (a non-antibiotic sulfonamide)",
            "EPC:N0000175419": "a thiazide (a non-antibiotic sulfonamide)",
            "ATC:C03BA": "a thiazide-like diuretic (a non-antibiotic sulfonamide)",
            "EPC:N0000175420": "a thiazide-like diuretic (a non-antibiotic sulfonamide)",
            "ATC:C03CA": "a sulfonamide loop diuretic",
        },
        "cross-reactivity with sulfonamide antibiotics is unlikely, but the sulfonylureas' "
        "labels list a sulfonamide allergy as a contraindication: check the reaction "
        "history, and prefer another class after a severe reaction.",
        members="a non-antibiotic sulfonamide",
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
                or any(c.startswith(rule.own) for c in tables.classes_of(allergy))
            ):
                found[rule] = name
    return found


def cross_reactivity(
    drug_id: str,
    drug: str,
    found: Allergens,
    tables: DrugTables,
    classes: DrugClasses | None = None,
) -> str | None:
    """The caution for ``drug`` given the patient's :func:`allergens` (``None``: none).

    Args:
        drug_id: the candidate's DrugBank id.
        drug: its name.
        found: the allergy rules the patient triggers, with the allergens' names.
        tables: the drugs' ATC and EPC classes.
        classes: the MeSH tree, for a rule's ``members`` (none: not checked).
    """
    own = sorted(tables.classes_of(drug_id))
    for rule, allergen in found.items():
        kind = next((rule.groups[c] for c in own if c in rule.groups), None)
        if (
            kind is None
            and rule.members
            and classes is not None
            and not any(c.startswith(rule.own) for c in own)
            and classes.member_of(drug, rule.mesh_class)
        ):
            kind = rule.members
        if kind is not None:
            return (
                f"Allergy caution: {drug} is {kind} and the patient is allergic to "
                f"{allergen}; {rule.risk}"
            )
    return None
