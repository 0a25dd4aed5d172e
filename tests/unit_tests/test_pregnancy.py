"""Pregnancy cautions: which patients are at risk, which drugs, and how strongly."""

from __future__ import annotations

import pytest

from kedrec_agent.ranking.tables import DrugTables
from kedrec_agent.safety.pregnancy import (
    RULES,
    contraindication,
    implies_pregnancy,
    preferred_in_pregnancy,
    pregnancy_cautions,
    pregnancy_risk,
)

TABLES = DrugTables.from_rows(
    [
        ("DB00678", "ATC:C09CA"),  # losartan
        ("DB00381", "ATC:C08CA"),  # amlodipine
        ("DB00999", "ATC:C03AA"),  # hydrochlorothiazide
        ("DB00313", "ATC:N03AG"),  # valproic acid
        ("DB01202", "ATC:N03AX"),  # levetiracetam
    ],
    class_names={"DB00722": ["Angiotensin-Converting Enzyme Inhibitors"]},  # lisinopril
)


@pytest.mark.parametrize(
    ("pregnant", "sex", "age", "risk"),
    [
        (True, "female", 30, "pregnant"),
        (True, None, None, "pregnant"),
        (None, "female", 30, "childbearing"),
        (False, "female", 30, "childbearing"),  # not pregnant now, but could become so
        (None, "female", 12, "childbearing"),
        (None, "female", 51, None),
        (None, "female", None, None),
        (None, "male", 30, None),
    ],
)
def test_risk(pregnant: bool | None, sex: str | None, age: int | None, risk: str | None) -> None:
    assert pregnancy_risk(pregnant, sex, age) == risk


def _cautions(risk: str | None) -> dict[str, tuple[str, bool]]:
    drugs = [
        ("DB00678", "Losartan"),
        ("DB00722", "Lisinopril"),
        ("DB00381", "Amlodipine"),
        ("DB00999", "Hydrochlorothiazide"),
        ("DB00313", "Valproic acid"),
        ("DB01202", "Levetiracetam"),
    ]
    found = pregnancy_cautions(drugs, risk, TABLES)  # type: ignore[arg-type]
    return {d: (c.message, c.strong) for d, c in found.items()}


def test_a_pregnant_patient_is_cautioned_by_atc_class_name_and_drug() -> None:
    found = _cautions("pregnant")
    assert set(found) == {"DB00678", "DB00722", "DB00999", "DB00313"}
    message, strong = found["DB00678"]
    assert message.startswith(
        "Pregnancy caution: Losartan is an angiotensin receptor blocker and the patient is "
        "pregnant: its boxed warning"
    )
    assert strong
    assert found["DB00722"][0].startswith("Pregnancy caution: Lisinopril is an ACE inhibitor")
    assert found["DB00313"][0].startswith("Pregnancy caution: Valproic acid and the patient")
    assert found["DB00999"][1] is False  # a thiazide: a guideline prefers others


def test_a_woman_who_could_become_pregnant_gets_only_the_prevention_programme_drugs() -> None:
    found = _cautions("childbearing")
    assert set(found) == {"DB00313"}
    assert "she could become pregnant" in found["DB00313"][0]
    assert "pregnancy prevention programme" in found["DB00313"][0]


def test_no_risk_no_caution() -> None:
    assert _cautions(None) == {}


def test_every_rule_names_its_drugs_and_why() -> None:
    for rule in RULES:
        assert rule.atc or rule.classes or rule.drugs
        assert rule.why and rule.what
        assert all(len(code) <= 5 for code in rule.atc)  # the tables keep ATC level 4


def test_a_pregnancy_complication_implies_pregnancy_but_a_puerperal_one_does_not() -> None:
    tree = {
        "MESH:D016640": "C13.703.277",  # gestational diabetes
        "MESH:D011248": "C13.703",  # pregnancy complications
        "MESH:D011644": "C13.703.844",  # puerperal disorders
        "MESH:D019052": "C13.703.844.500",  # postpartum depression
        "MESH:D006973": "C14.907.489",  # hypertension
    }

    def under(disease: str, ancestor: str) -> bool:
        return tree.get(disease, "x").startswith(tree[ancestor])

    assert implies_pregnancy(["MESH:D006973", "MESH:D016640"], under)
    assert not implies_pregnancy(["MESH:D019052"], under)
    assert not implies_pregnancy(["MESH:D006973"], under)


def test_only_a_pregnant_patient_has_drugs_withheld_and_only_by_contraindicated_rules() -> None:
    why = contraindication("DB00678", "Losartan", "pregnant", TABLES)
    assert why is not None and why.startswith("Losartan was withheld: contraindicated in pregnancy")
    assert contraindication("DB00678", "Losartan", "childbearing", TABLES) is None
    assert contraindication("DB00313", "Valproic acid", "pregnant", TABLES) is None  # cautioned
    assert contraindication("DB00381", "Amlodipine", "pregnant", TABLES) is None


def test_a_preferred_drug_is_preferred_only_for_its_guidelines_conditions() -> None:
    tree = {"MESH:D004827": "C10.228.140.490", "MESH:D012559": "F03.700.750"}  # epilepsy, ...

    def under(disease: str, ancestor: str) -> bool:
        return tree.get(disease, "x").startswith(tree.get(ancestor, "y"))

    lamotrigine = "DB00555"
    assert preferred_in_pregnancy(lamotrigine, "MESH:D004827", "pregnant", under)
    assert not preferred_in_pregnancy(lamotrigine, "MESH:D012559", "pregnant", under)  # psychosis
    assert not preferred_in_pregnancy(lamotrigine, "MESH:D004827", "childbearing", under)
    assert not preferred_in_pregnancy("DB00313", "MESH:D004827", "pregnant", under)  # valproate


def test_an_sglt2_inhibitor_is_cautioned_in_pregnancy_by_its_class_name() -> None:
    tables = DrugTables.from_rows(
        [], class_names={"DB09038": ["Sodium-Glucose Cotransporter 2 Inhibitor"]}
    )
    found = pregnancy_cautions([("DB09038", "Empagliflozin")], "pregnant", tables)
    assert found["DB09038"].strong and "an SGLT2 inhibitor" in found["DB09038"].message
    assert contraindication("DB09038", "Empagliflozin", "pregnant", tables) is None
