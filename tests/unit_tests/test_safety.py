"""Safety checks of a recommendation: allergy classes, duplicate therapy, interactions."""

from __future__ import annotations

from kedrec_agent.kg.models import Entity, Interaction
from kedrec_agent.reasoning.schema import Choice, Recommendation
from kedrec_agent.safety.checks import SafetyWarning, check_recommendation
from kedrec_agent.safety.classes import DrugClasses

# A slice of the MeSH tree: Penicillins > Ampicillin > Amoxicillin; Lisinopril elsewhere.
CLASSES = DrugClasses(
    by_name={"penicillins": "MESH:D010406", "ampicillin": "MESH:D000667",
             "amoxicillin": "MESH:D000658", "lisinopril": "MESH:D017706"},
    trees={"MESH:D010406": ["D02.065.589.099.750"], "MESH:D000667": ["D02.065.589.099.750.750"],
           "MESH:D000658": ["D02.065.589.099.750.750.050"],
           "MESH:D017706": ["D03.383.773.600.500"]},
    names={"MESH:D010406": "Penicillins", "MESH:D000667": "Ampicillin",
           "MESH:D000658": "Amoxicillin", "MESH:D017706": "Lisinopril"},
)  # fmt: skip
NAMES = {"DB01060": "Amoxicillin", "DB00415": "Ampicillin", "DB00722": "Lisinopril",
         "DB00682": "Warfarin", "MESH:D010406": "Penicillins"}  # fmt: skip


def _rec(*drugs: str) -> Recommendation:
    return Recommendation(
        choices=[Choice(drug_id=d, drug_name=NAMES[d], rationale="r", evidence_ids=["E1"])
                 for d in drugs],
        confidence=0.7, fallback=False, prompt_version="reason-v1",
    )  # fmt: skip


def _check(
    rec: Recommendation,
    meds: list[str],
    allergies: list[str],
    interactions: list[Interaction] | None = None,
) -> tuple[Recommendation, list[SafetyWarning]]:
    return check_recommendation(rec, meds, allergies, interactions or [], NAMES.get, CLASSES)


def test_member_of_an_allergen_class_is_withheld() -> None:
    kept, warnings = _check(_rec("DB01060", "DB00722"), [], ["MESH:D010406"])
    assert [c.drug_id for c in kept.choices] == ["DB00722"]
    assert [(w.kind, w.severity, w.drug_id) for w in warnings] == [("allergy", "veto", "DB01060")]
    assert "Penicillins" in warnings[0].message


def test_related_allergen_drug_and_same_drug_are_withheld() -> None:
    kept, warnings = _check(_rec("DB01060"), [], ["DB00415"])  # allergic to ampicillin
    assert not kept.choices and "Ampicillin" in warnings[0].message
    kept, warnings = _check(_rec("DB00722"), [], ["DB00722"])
    assert not kept.choices and warnings[0].kind == "allergy"
    kept, warnings = _check(_rec("DB00722"), [], ["DB00415"])  # unrelated: kept
    assert [c.drug_id for c in kept.choices] == ["DB00722"] and not warnings


def test_duplicate_therapy_is_withheld_and_interactions_warn() -> None:
    ddi = Interaction(
        drug_a=Entity(id="Compound::DB00722", label="Lisinopril"),
        drug_b=Entity(id="Compound::DB00682", label="Warfarin"),
        relation="DRUGBANK::ddi-interactor-in::Compound:Compound",
        description="Lisinopril may increase the effect of Warfarin.",
    )
    kept, warnings = _check(_rec("DB00722", "DB01060"), ["DB00682", "DB01060"], [], [ddi])
    assert [c.drug_id for c in kept.choices] == ["DB00722"]  # interaction: warned, kept
    kinds = {(w.kind, w.severity, w.drug_id) for w in warnings}
    assert kinds == {("interaction", "warning", "DB00722"), ("duplicate", "veto", "DB01060")}
    unrelated, none = _check(_rec("DB00722"), [], [], [ddi])  # warfarin not taken: no warning
    assert unrelated.choices and not none


def _ddi(a: str, b: str, description: str | None = None) -> Interaction:
    return Interaction(
        drug_a=Entity(id=f"Compound::{a}", label=NAMES[a]),
        drug_b=Entity(id=f"Compound::{b}", label=NAMES[b]),
        relation="DRUGBANK::ddi-interactor-in::Compound:Compound",
        description=description,
    )


def test_one_warning_per_pair_described_first_current_medications_first() -> None:
    ddis = [
        _ddi("DB00722", "DB00415"),  # two recommended drugs, both directions
        _ddi("DB00415", "DB00722", "Ampicillin may decrease the effect of Lisinopril."),
        _ddi("DB00415", "DB00722"),
        _ddi("DB00415", "DB00682"),  # a recommended drug and a current medication
    ]
    _, warnings = _check(_rec("DB00722", "DB00415"), ["DB00682"], [], ddis)
    assert [(w.drug_id, w.other_id, w.message) for w in warnings] == [
        ("DB00415", "DB00682", "Ampicillin interacts with Warfarin."),
        ("DB00722", "DB00415",
         "Ampicillin may decrease the effect of Lisinopril. (both are recommended)"),
    ]  # fmt: skip
    _, only = _check(_rec("DB00722", "DB00415"), ["DB00682"], ["DB00415"], ddis)
    assert [w.kind for w in only] == ["allergy"]  # a withheld drug's interactions are moot
