"""Safety checks on the real bundle's MeSH tree and graph."""

from __future__ import annotations

import pytest

from kedrec_agent.agent.context import Context
from kedrec_agent.config import Settings
from kedrec_agent.linking import get_linker
from kedrec_agent.reasoning.schema import Choice, Recommendation
from kedrec_agent.safety.checks import check_recommendation
from kedrec_agent.safety.classes import DrugClasses

pytestmark = pytest.mark.integration


def test_penicillin_allergy_withholds_penicillins_only(bundle_settings: Settings) -> None:
    classes = DrugClasses.from_settings(bundle_settings)
    linker = get_linker(bundle_settings)
    allergy = linker.extract("allergic to penicillin").allergies[0].entity.id
    assert allergy == "MESH:D010406"
    drugs = ["amoxicillin", "piperacillin", "azithromycin", "cefdinir"]
    ids = [linker.link_drug(d).id for d in drugs]
    rec = Recommendation(
        choices=[
            Choice(drug_id=i, drug_name=linker.name_of(i) or i, rationale="", evidence_ids=[])
            for i in ids
        ],
        confidence=0.5,
        fallback=False,
        prompt_version="reason-v1",
    )
    kept, warnings = check_recommendation(rec, [], [allergy], [], linker.name_of, classes)
    assert [c.drug_id for c in kept.choices] == ids[2:]
    assert {w.drug_id for w in warnings if w.severity == "veto"} == set(ids[:2])


def test_graph_reports_safety_findings_and_keeps_no_vetoed_drug() -> None:
    from graphs.kedrec import graph

    output = graph.invoke({"patient": "55-year-old man with hypertension and gout on lisinopril"})
    result = output["result"]
    assert not result["abstained"], result["reason"]
    status = {c["condition"]["name"]: c["status"] for c in result["conditions"]}
    assert status == {"Hypertension": "treated", "Gout": "options"}
    vetoed = {w["drug_id"] for w in result["warnings"] if w["severity"] == "veto"}
    chosen = {r["drug_id"] for r in result["recommendations"]}
    assert not vetoed & chosen
    assert "DB00722" not in chosen  # lisinopril is taken already: never recommended again


def test_a_category_of_diseases_gets_no_drug() -> None:
    from graphs.kedrec import graph

    context = Context(literature=False)
    result = graph.invoke({"patient": "70-year-old man with a neoplasm and gout"}, context=context)[
        "result"
    ]
    by_name = {c["condition"]["name"]: c for c in result["conditions"]}
    assert by_name["Neoplasms"]["status"] == "no_options"
    assert "too general" in by_name["Neoplasms"]["reason"]
    assert by_name["Gout"]["status"] == "options"
    assert {r["condition"]["name"] for r in result["recommendations"]} == {"Gout"}
    alone = graph.invoke({"patient": "a neoplasm"}, context=context)["result"]
    assert alone["abstained"] and "too general" in alone["reason"]


def test_a_current_medication_that_worsens_another_condition_is_flagged() -> None:
    from graphs.kedrec import graph

    context = Context(literature=False)
    note = "62-year-old man with gout and hypertension on hydrochlorothiazide"
    result = graph.invoke({"patient": note}, context=context)["result"]
    flagged = [
        w
        for w in result["warnings"]
        if w["kind"] == "comorbidity" and w["drug_id"] == "DB00999"  # the thiazide
    ]
    assert len(flagged) == 1 and "(a current medication)" in flagged[0]["message"]
    assert "Gout" in flagged[0]["message"]
    # Not for the hypertension it treats, and not without the gout.
    alone = graph.invoke(
        {"patient": "62-year-old man with hypertension on hydrochlorothiazide"}, context=context
    )["result"]
    assert not [w for w in alone["warnings"] if w["kind"] == "comorbidity"]


def test_no_non_selective_beta_blocker_for_an_asthmatic_patients_hypertension(
    bundle_settings: Settings,
) -> None:
    from graphs.kedrec import graph
    from kedrec_agent.ranking.tables import DrugTables

    tables = DrugTables.from_settings(bundle_settings)
    note = "30-year-old woman with asthma and hypertension"
    result = graph.invoke({"patient": note}, context=Context(literature=False))["result"]
    by_condition = {c["condition"]["name"]: c for c in result["conditions"]}
    assert by_condition["Hypertension"]["status"] == "options"
    options = by_condition["Hypertension"]["drug_ids"]
    beta = {"ATC:C07AA", "ATC:C07AG"}
    unsafe = [d for d in options if beta & set(tables.classes_of(d))]
    cautioned = {w["drug_id"] for w in result["warnings"] if w["kind"] == "comorbidity"}
    assert set(unsafe) <= cautioned  # never shown without its caution
    assert options[0] not in unsafe  # and never first


def test_a_pregnant_patients_hypertension_gets_no_renin_angiotensin_drug(
    bundle_settings: Settings,
) -> None:
    from graphs.kedrec import graph
    from kedrec_agent.ranking.tables import DrugTables

    note = "32-year-old woman with hypertension, 14 weeks pregnant, on lisinopril"
    result = graph.invoke({"patient": note}, context=Context(literature=False))["result"]
    assert result["patient"]["pregnant"] is True
    pregnancy = [w for w in result["warnings"] if w["kind"] == "pregnancy"]
    current = [w for w in pregnancy if w["drug_id"] == "DB00722"]  # lisinopril, taken
    assert len(current) == 1 and "(a current medication)" in current[0]["message"]
    (hypertension,) = result["conditions"]
    options = hypertension["drug_ids"]
    assert hypertension["status"] == "options" and options  # not "treated by lisinopril"
    withheld = {w["drug_id"] for w in pregnancy if w["severity"] == "veto"}
    assert not withheld & set(options)
    tables = DrugTables.from_settings(bundle_settings)
    renin_angiotensin = [
        d for d in options if any(c.startswith("ATC:C09") for c in tables.every.get(d, ()))
    ]
    assert not renin_angiotensin  # ACE inhibitors, ARBs: contraindicated, never an option
    cautioned = {w["drug_id"] for w in pregnancy}
    assert options[0] not in cautioned
