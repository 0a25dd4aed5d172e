"""The vignettes benchmark: generation (seeded, variants, skips) and its metrics."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from kedrec_agent.agent.result import AgentResult, DrugRecommendation, Versions
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.safety.checks import SafetyWarning
from training.evaluation.vignettes import (
    INTERACTING,
    SINGLE,
    TWO_CONDITIONS,
    VARIANTS,
    DiseaseGold,
    Medication,
    Vignette,
    bootstrap_ci,
    figures,
    generate_vignettes,
    markdown,
    parse_variants,
    per_condition,
    read_indications,
    run_vignettes,
    score_row,
    summarise,
)

WARFARIN = "DB00682"

TSV = """doid_id\tdrugbank_id\tdisease\tdrug\tcategory\tn_curators\tn_resources\tdisease_key
DOID:1\tDB00001\thypertension\tA\tDM\t1\t1\tMESH:D1
DOID:1\tDB00002\thypertension\tB\tSYM\t1\t1\tMESH:D1
DOID:1\tDB00003\thypertension\tC\tNOT\t1\t1\tMESH:D1
DOID:2\tDB00011\tasthma\tK\tDM\t1\t1\tMESH:D2
DOID:2\tDB00013\tasthma\tM\tNOT\t1\t1\tMESH:D2
DOID:3\tDB00021\tprostate cancer\tP\tDM\t1\t1\tMESH:D3
DOID:4\tDB00031\tpolycystic ovary syndrome\tQ\tSYM\t1\t1\tMESH:D4
DOID:5\tDB00041\tzzz unlinkable\tR\tDM\t1\t1\tMESH:D5
DOID:6\tDB00051\tonly negatives\tS\tNOT\t1\t1\tMESH:D6
"""


def link(name: str) -> Sequence[str] | None:
    return None if "unlinkable" in name else (f"LINKED:{name}",)


@pytest.fixture
def diseases(tmp_path: Path) -> list[DiseaseGold]:
    path = tmp_path / "indications.tsv"
    path.write_text(TSV)
    return read_indications(path)


def test_read_indications_groups_by_disease(diseases: list[DiseaseGold]) -> None:
    htn = next(d for d in diseases if d.doid == "DOID:1")
    assert (htn.key, htn.name) == ("MESH:D1", "hypertension")
    assert htn.dm == {"DB00001"} and htn.sym == {"DB00002"} and htn.wrong == {"DB00003"}
    assert htn.gold == {"DB00001", "DB00002"}
    assert len(diseases) == 6


def test_read_indications_rejects_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("doid_id\tdisease\nDOID:1\tx\n")
    with pytest.raises(InvalidInputError, match="missing column"):
        read_indications(path)


def test_generation_is_deterministic_and_seeded(diseases: list[DiseaseGold]) -> None:
    first = generate_vignettes(diseases, link, seed=0)
    again = generate_vignettes(diseases, link, seed=0)
    other = generate_vignettes(diseases, link, seed=1)
    assert [(v.id, v.text) for v in first.vignettes] == [(v.id, v.text) for v in again.vignettes]
    assert [(v.id, v.text) for v in first.vignettes] != [(v.id, v.text) for v in other.vignettes]


def test_generation_skips_and_counts(diseases: list[DiseaseGold]) -> None:
    generated = generate_vignettes(diseases, link, seed=0)
    counts = generated.counts()
    assert counts["skipped_unlinkable"] == 1 and counts["unlinkable"] == ["zzz unlinkable"]
    assert counts["skipped_without_gold"] == 1 and counts["without_gold"] == ["only negatives"]
    assert counts["in_file"] == 6 and counts["used"] == 4
    names = {c.name for v in generated.vignettes for c in v.conditions}
    assert "zzz unlinkable" not in names and "only negatives" not in names


def test_variants_and_their_texts(diseases: list[DiseaseGold]) -> None:
    medication = Medication("amiodarone", "DB01118")
    vignettes = generate_vignettes(diseases, link, seed=3, medication=medication).vignettes
    assert len(vignettes) == 4 * 3  # four usable diseases, each with every variant
    by_disease: dict[str, list[Vignette]] = {}
    for v in vignettes:
        by_disease.setdefault(v.id.rsplit(":", 1)[0], []).append(v)
    for group in by_disease.values():
        assert [v.variant for v in group] == list(VARIANTS)  # variants together, in order
        single, interacting, two = group
        assert single.conditions[0].name in single.text and str(single.age) in single.text
        assert ("woman" in single.text) == (single.sex == "female")
        assert not single.medications and "amiodarone" not in single.text
        assert interacting.medication_ids == {"DB01118"} and "on amiodarone" in interacting.text
        assert (interacting.age, interacting.sex) == (single.age, single.sex)  # same patient
        assert len(two.conditions) == 2 and two.conditions[0] == single.conditions[0]
        assert two.conditions[1].doid != two.conditions[0].doid
        assert all(c.name in two.text for c in two.conditions)
    # sex-specific diseases: a man with prostate cancer, a woman with PCOS, never paired
    for v in vignettes:
        names = " ".join(c.name for c in v.conditions)
        if "prostate" in names:
            assert v.sex == "male" and "ovary" not in names
        if "ovary" in names:
            assert v.sex == "female"
    assert all(
        c.ids >= {c.doid, c.key, f"LINKED:{c.name}"} for v in vignettes for c in v.conditions
    )


def test_only_the_wanted_variants(diseases: list[DiseaseGold]) -> None:
    vignettes = generate_vignettes(diseases, link, variants=[INTERACTING]).vignettes
    assert {v.variant for v in vignettes} == {INTERACTING}
    with pytest.raises(InvalidInputError, match="Unknown variant"):
        generate_vignettes(diseases, link, variants=["triple"])
    assert parse_variants("single, two_conditions") == [SINGLE, TWO_CONDITIONS]
    with pytest.raises(InvalidInputError):
        parse_variants("single,bogus")


# --- metrics on hand-made answers ----------------------------------------------------------

HTN = DiseaseGold(
    "DOID:1",
    "MESH:D1",
    "hypertension",
    dm=frozenset({"DB00001"}),
    sym=frozenset({"DB00002"}),
    wrong=frozenset({"DB00003"}),
    ids=frozenset({"DOID:1", "MESH:D1"}),
)
ASTHMA = DiseaseGold(
    "DOID:2",
    "MESH:D2",
    "asthma",
    dm=frozenset({"DB00011"}),
    wrong=frozenset({"DB00013"}),
    ids=frozenset({"DOID:2", "MESH:D2"}),
)


def vignette(*conditions: DiseaseGold, meds: Sequence[str] = (), variant: str = SINGLE) -> Vignette:
    medications = tuple(Medication(m, m) for m in meds)
    return Vignette("v", variant, "note", 60, "female", conditions, medications)


def rec(rank: int, drug: str, **extra: Any) -> dict[str, Any]:
    return {
        "rank": rank,
        "drug_id": drug,
        "name": extra.pop("name", f"Drug{drug[-2:]}"),
        "rationale": extra.pop("rationale", f"Drug{drug[-2:]} treats it [E{rank}]."),
        "grounded": extra.pop("grounded", True),
        "evidence": extra.pop("evidence", [{"id": f"E{rank}"}]),
        "warnings": extra.pop("warnings", []),
        **extra,
    }


def answer(*recs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"abstained": not recs, "recommendations": list(recs), "warnings": [], **extra}


def test_not_drug_on_top_counts() -> None:
    row = score_row(vignette(HTN), answer(rec(1, "DB00003"), rec(2, "DB00001")), 1.0)
    assert row["not_top1"] and row["not_count"] == 1
    assert not row["top1_dm"]
    assert row["hit3"] == 1.0  # the gold drug is second
    f = figures([row])
    assert f["not_rate"] == 0.5 and f["not_top1"] == 1.0 and f["top1_dm"] == 0.0


def test_hit_at_3_and_top1_dm() -> None:
    fourth = answer(*(rec(i, f"DB0009{i}") for i in range(1, 4)), rec(4, "DB00001"))
    assert score_row(vignette(HTN), fourth, 1.0)["hit3"] == 0.0  # gold only at rank 4
    sym_top = score_row(vignette(HTN), answer(rec(1, "DB00002")), 1.0)
    assert sym_top["hit3"] == 1.0 and not sym_top["top1_dm"]  # symptomatic: a hit, not DM
    dm_top = score_row(vignette(HTN), answer(rec(1, "DB00001")), 1.0)
    assert dm_top["top1_dm"] and not dm_top["not_top1"]
    abstained = score_row(vignette(HTN), answer(reason="nothing"), 1.0)
    assert abstained["abstained"] and abstained["hit3"] == 0.0 and not abstained["top1_dm"]
    f = figures([dm_top, abstained])
    assert f["hit3"] == 0.5 and f["top1_dm"] == 0.5 and f["abstention"] == 0.5


def test_top1_dm_where_possible_leaves_out_conditions_with_only_symptomatic_drugs() -> None:
    symptomatic = DiseaseGold("DOID:3", "MESH:D3", "schizophrenia", sym=frozenset({"DB00021"}))
    only_sym = score_row(vignette(symptomatic), answer(rec(1, "DB00021")), 1.0)
    assert not only_sym["top1_dm"] and not only_sym["dm_possible"]
    dm_top = score_row(vignette(HTN), answer(rec(1, "DB00001")), 1.0)
    sym_top = score_row(vignette(HTN), answer(rec(1, "DB00002")), 1.0)
    f = figures([only_sym, dm_top, sym_top])
    assert f["top1_dm"] == pytest.approx(1 / 3)
    assert f["with_dm"] == 2 and f["top1_dm_possible"] == 0.5
    # The DM drug taken already: none is left to recommend.
    assert not score_row(vignette(HTN, meds=["DB00001"]), answer(), 1.0)["dm_possible"]


def test_current_medication_is_not_gold() -> None:
    row = score_row(vignette(HTN, meds=["DB00001"]), answer(rec(1, "DB00001")), 1.0)
    assert row["hit3"] == 0.0 and not row["hit3_any"]


def warning(drug: str, other: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "interaction", "severity": "warning", "drug_id": drug, "other_id": other,
            "message": "x", **extra}  # fmt: skip


def test_interacting_top_major_needs_a_safer_gold_alternative() -> None:
    v = vignette(HTN, meds=[WARFARIN], variant=INTERACTING)
    major = answer(rec(1, "DB00001", warnings=[warning("DB00001", WARFARIN, ddi_severity="major")]))
    # DB00002 (gold) has no major interaction with warfarin: the top drug should not have one
    row = score_row(v, major, 1.0, {"DB00001": "major", "DB00002": "minor"})
    assert row["top1_interaction"] == "major"
    assert row["interacting_top_major"] and not row["interacting_top_any"]  # no gold w/o any
    # every gold alternative interacts majorly too: not counted
    worse = score_row(v, major, 1.0, {"DB00001": "major", "DB00002": "major"})
    assert not worse["interacting_top_major"]
    # a gold drug with no known interaction: 'any' counts
    free = score_row(v, major, 1.0, {"DB00001": "major"})
    assert free["interacting_top_major"] and free["interacting_top_any"]
    assert free["severity_reported"] == 1
    f = figures([row, worse, free, score_row(vignette(HTN), answer(rec(1, "DB00001")), 1.0)])
    assert f["with_medication"] == 3 and f["interacting_top_major"] == pytest.approx(2 / 3)


def test_interaction_without_severity_is_unknown() -> None:
    v = vignette(HTN, meds=[WARFARIN], variant=INTERACTING)
    plain = answer(rec(1, "DB00001"))
    plain["warnings"] = [warning(WARFARIN, "DB00001")]  # reversed pair, no severity field
    row = score_row(v, plain, 1.0, {})
    assert row["top1_interaction"] == "unknown"
    assert not row["interacting_top_major"] and row["interacting_top_any"]
    assert row["severity_reported"] == 0 and row["interaction_warnings"] == 1
    other = answer(rec(1, "DB00001", warnings=[warning("DB00001", "DB99999")]))
    assert score_row(v, other, 1.0, {})["top1_interaction"] is None  # not the medication


def test_two_conditions_whole_list_and_attributed() -> None:
    v = vignette(HTN, ASTHMA, variant=TWO_CONDITIONS)
    whole = score_row(v, answer(rec(1, "DB00001"), rec(2, "DB00099")), 1.0)
    assert not whole["attributed"] and whole["hits"] == {"DOID:1": True, "DOID:2": False}
    assert whole["hit3"] == 0.5 and whole["hit3_any"]
    # attributed per recommendation: asthma's drugs are counted for asthma only
    attributed = answer(
        rec(1, "DB00001", condition={"id": "MESH:D1", "name": "Hypertension"}),
        rec(2, "DB00011", condition="DOID:2"),
        rec(3, "DB00013", condition="MESH:D2"),
    )
    row = score_row(v, attributed, 1.0)
    assert row["attributed"] and row["hit3"] == 1.0
    assert row["per_condition"] == {"DOID:1": ["DB00001"], "DOID:2": ["DB00011", "DB00013"]}
    assert row["not_count"] == 1  # DB00013 is NOT for asthma, the condition it is given for
    # a drug NOT for one condition but given for the other is not a NOT drug there
    cross = answer(rec(1, "DB00013", condition="MESH:D1"))
    assert score_row(v, cross, 1.0)["not_count"] == 0
    # a per-condition grouping of the answer
    grouped = answer(rec(1, "DB00099"), rec(2, "DB00011"))
    grouped["per_condition"] = [
        {"condition": {"id": "MESH:D1"}, "recommendations": [{"drug_id": "DB00099"}]},
        {"condition": {"id": "MESH:D2"}, "recommendations": [{"drug_id": "DB00011"}]},
    ]
    assert per_condition(grouped, [HTN, ASTHMA]) == {"DOID:1": ["DB00099"], "DOID:2": ["DB00011"]}
    assert score_row(v, grouped, 1.0)["hits"] == {"DOID:1": False, "DOID:2": True}
    # the agent's own grouping: result.conditions of {condition, status, drug_ids}
    agent_groups = answer(rec(1, "DB00099"), rec(2, "DB00011"))
    agent_groups["conditions"] = [
        {"condition": {"id": "DOID:1", "name": "x"}, "status": "no_options", "drug_ids": []},
        {"condition": {"id": "MESH:D2", "name": "y"}, "status": "options",
         "drug_ids": ["DB00099", "DB00011"]},
    ]  # fmt: skip
    assert per_condition(agent_groups, [HTN, ASTHMA]) == {
        "DOID:1": [],
        "DOID:2": ["DB00099", "DB00011"],
    }


def test_rationale_gate() -> None:
    v = vignette(HTN)
    bad = answer(
        rec(1, "DB00001", name="Amlodipine", rationale="Lisinopril lowers pressure [E1]."),
        rec(2, "DB00002", name="Lisinopril", rationale="Lisinopril: see E7."),
        rec(3, "DB00003", name="Atenolol", rationale="", grounded=False),
    )
    row = score_row(v, bad, 1.0)
    assert row["gate_failures"] == 2 and row["ungrounded"] == 1
    assert row["gate_reasons"]["DB00001"] == ["names another drug, not its own"]
    assert row["gate_reasons"]["DB00002"] == ["cites evidence not about the drug"]
    fallback = score_row(v, {**bad, "fallback": True}, 1.0)  # not the model's text
    assert fallback["gate_failures"] == 0 and fallback["fallback"]
    good = score_row(v, answer(rec(1, "DB00001")), 1.0)
    assert good["gate_failures"] == 0 and good["ungrounded"] == 0
    f = figures([row, good])
    assert f["gate_failures"] == 2 and f["gate_failure_rate"] == 0.5
    assert f["ungrounded"] == 0.25


def test_score_row_reads_an_agent_result() -> None:
    result = AgentResult(
        abstained=False,
        recommendations=[
            DrugRecommendation(
                rank=1, drug_id="DB00001", name="Drug01", score=1.0, rationale="Drug01 works.",
                grounded=True, evidence=[],
                warnings=[SafetyWarning(kind="interaction", severity="warning", drug_id="DB00001",
                                        other_id=WARFARIN, message="m", ddi_severity="major")],
            )
        ],
        versions=Versions.current(),
    )  # fmt: skip
    row = score_row(vignette(HTN, meds=[WARFARIN]), result, 2.0, {"DB00001": "major"})
    assert row["top1_dm"] and row["top1_interaction"] == "major"
    assert row["interacting_top_major"]  # DB00002 has no major interaction
    assert row["linked"] == 0.0  # the result's patient lists no condition
    assert row["seconds"] == 2.0


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    lo, hi = bootstrap_ci(values, seed=0)
    assert lo <= sum(values) / len(values) <= hi and lo < hi
    assert bootstrap_ci(values, seed=0) == [lo, hi]
    assert bootstrap_ci([1.0, 1.0, 1.0]) == [1.0, 1.0]
    assert bootstrap_ci([]) == [0.0, 0.0]


def test_run_vignettes_survives_a_failure_and_summarises(diseases: list[DiseaseGold]) -> None:
    vignettes = generate_vignettes(diseases, link, seed=0).vignettes[:6]
    calls: list[str] = []

    def recommender(text: str) -> dict[str, Any]:
        calls.append(text)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return answer(rec(1, "DB00001"))

    def levels(drugs: Sequence[str], meds: Sequence[str]) -> dict[str, str]:
        return {d: "major" for d in drugs}

    rows = run_vignettes(vignettes, recommender, levels, progress=False)
    assert len(rows) == 6 and rows[1]["abstained"] and "RuntimeError" in rows[1]["reason"]
    assert all("note" not in r and "text" not in r for r in rows)  # no note text in a row
    interacting = [r for r in rows if r["variant"] == INTERACTING]
    assert interacting and all(r["gold_interactions"] for r in interacting)
    summary = summarise(rows)
    assert set(summary) == {*VARIANTS, "overall"}
    assert summary["overall"]["vignettes"] == 6
    assert sum(summary[v]["vignettes"] for v in VARIANTS) == 6
    result = {
        "split": "dev", "seed": 0, "generated": 12, "variants": list(VARIANTS),
        "medication": {"name": "warfarin", "drug_id": WARFARIN},
        "diseases": generate_vignettes(diseases, link).counts(), "figures": summary,
        "seconds": 1.0,
    }  # fmt: skip
    text = "\n".join(markdown(result))
    assert "| overall | 6 |" in text and "zzz unlinkable" in text
    assert all(call not in text for call in calls)
