"""Safety checks of a recommendation: allergy classes, duplicate therapy, interactions."""

from __future__ import annotations

import gzip
from pathlib import Path

from kedrec_agent.config import Settings
from kedrec_agent.kg.models import Entity, Interaction
from kedrec_agent.reasoning.schema import Choice, Recommendation
from kedrec_agent.safety.checks import SafetyWarning, check_recommendation
from kedrec_agent.safety.classes import DrugClasses
from kedrec_agent.safety.comorbidity import SideEffects, comorbidity_cautions
from kedrec_agent.safety.severity import SeverityTable

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
    severities: SeverityTable | None = None,
) -> tuple[Recommendation, list[SafetyWarning]]:
    return check_recommendation(
        rec, meds, allergies, interactions or [], NAMES.get, CLASSES, severities
    )


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


def test_a_cross_reactive_class_member_is_not_withheld_but_the_allergen_is() -> None:
    # amoxicillin is in MeSH's Penicillins; were it only cross-reactive (as a thiazide is
    # to a "sulfa" allergy), its class finding is the caution's, not a veto
    rec = _rec("DB01060", "DB00722")
    kept, warnings = check_recommendation(
        rec, [], ["MESH:D010406"], [], NAMES.get, CLASSES, cross_reactive={"DB01060"}
    )
    assert [c.drug_id for c in kept.choices] == ["DB01060", "DB00722"] and not warnings
    kept, warnings = check_recommendation(
        rec, [], ["DB01060"], [], NAMES.get, CLASSES, cross_reactive={"DB01060"}
    )
    assert [c.drug_id for c in kept.choices] == ["DB00722"] and warnings[0].kind == "allergy"


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
        ("DB00415", "DB00682",
         "Interaction (severity unknown): Ampicillin interacts with Warfarin."),
        ("DB00722", "DB00415", "Interaction (severity unknown): Ampicillin may decrease the "
         "effect of Lisinopril. (both are recommended)"),
    ]  # fmt: skip
    _, only = _check(_rec("DB00722", "DB00415"), ["DB00682"], ["DB00415"], ddis)
    assert [w.kind for w in only] == ["allergy"]  # a withheld drug's interactions are moot


def test_two_options_for_the_same_condition_are_alternatives_not_a_combination() -> None:
    ddis = [_ddi("DB00722", "DB00415"), _ddi("DB00415", "DB00682")]

    def tagged(first: str, second: str) -> Recommendation:
        rec = _rec("DB00722", "DB00415")
        for choice, condition in zip(rec.choices, (first, second), strict=True):
            choice.condition = condition
        return rec

    _, same = _check(tagged("MESH:D006973", "MESH:D006973"), ["DB00682"], [], ddis)
    assert [(w.drug_id, w.other_id) for w in same] == [("DB00415", "DB00682")]
    _, apart = _check(tagged("MESH:D006973", "MESH:D003924"), ["DB00682"], [], ddis)
    assert [(w.drug_id, w.other_id) for w in apart] == [
        ("DB00415", "DB00682"),
        ("DB00722", "DB00415"),
    ]


def test_interactions_carry_severity_and_a_major_one_moves_the_drug_behind_the_others() -> None:
    table = SeverityTable(
        {frozenset({"DB00415", "DB00682"}): "major"},
        {"5": "major"},  # DrugBank type 5: "may increase the anticoagulant activities of"
    )
    typed = Interaction(
        drug_a=Entity(id="Compound::DB00722", label="Lisinopril"),
        drug_b=Entity(id="Compound::DB00682", label="Warfarin"),
        relation="DRUGBANK::ddi-type-5::Compound:Compound",
        description="Lisinopril may increase the anticoagulant activities of Warfarin.",
    )
    ddis = [_ddi("DB00415", "DB00682"), typed]
    kept, warnings = _check(_rec("DB00415", "DB01060"), ["DB00682"], [], ddis, table)
    assert [c.drug_id for c in kept.choices] == ["DB01060", "DB00415"]  # the major one last
    (major,) = warnings
    assert (major.ddi_severity, major.severity_source) == ("major", "DDInter")
    assert major.message.startswith("Major interaction: ")
    kept, warnings = _check(_rec("DB00722", "DB01060"), ["DB00682"], [], ddis, table)
    assert (warnings[0].ddi_severity, warnings[0].severity_source) == ("major", "interaction type")
    assert [c.drug_id for c in kept.choices] == ["DB01060", "DB00722"]
    kept, warnings = _check(_rec("DB00722", "DB01060"), ["DB00682"], [], ddis)  # no table
    assert warnings[0].ddi_severity == "unknown" and warnings[0].severity_source is None
    assert [c.drug_id for c in kept.choices] == ["DB00722", "DB01060"]  # unknown: not moved


def test_severity_table_reads_the_bundle_files(tmp_path: Path) -> None:
    (tmp_path / "safety").mkdir()
    with gzip.open(tmp_path / "safety" / "ddinter_severity.tsv.gz", "wt") as out:
        out.write("drugbank_id_1\tdrug_name_1\tdrugbank_id_2\tdrug_name_2\tlevel\t"
                  "level_unqualified\tall_levels\tddinter_pairs\n"
                  "DB00682\tWarfarin\tDB00945\tAspirin\tMajor\tMajor\tMajor\tx\n"
                  "DB00001\tA\tDB00002\tB\tUnknown\tUnknown\tUnknown\tx\n")  # fmt: skip
    (tmp_path / "safety" / "ddi_type_severity_from_ddinter.tsv").write_text(
        "type\ttemplate\tn_typed_pairs\tn_with_ddinter\tn_major\tn_moderate\tn_minor\t"
        "n_unknown\tmajority_level\tshare_major\tshare_minor\n"
        "5\tt\t1\t1\t47\t53\t0\t0\tModerate\t0.47\t0.00\n"
        "8\tt\t1\t1\t0\t1\t0\t0\tModerate\t0.00\t0.00\n"
    )  # fmt: skip
    table = SeverityTable.from_settings(Settings(data_dir=tmp_path, home=tmp_path))
    assert table.pair_level("DB00945", "DB00682") == "major"
    assert table.pair_level("DB00001", "DB00002") == "unknown"
    assert table.types == {"5": "major", "8": "moderate"}
    empty = SeverityTable.from_settings(Settings(data_dir=tmp_path / "x", home=tmp_path))
    assert empty.pairs == {} and empty.types == {}  # a bundle without safety/: all unknown


def test_only_the_leading_options_of_different_conditions_are_checked_together() -> None:
    rec = _rec("DB00722", "DB01060", "DB00415")
    for choice, condition in zip(rec.choices, ("A", "A", "B"), strict=True):
        choice.condition = condition  # DB01060 is the second option for A: an alternative
    ddis = [_ddi("DB01060", "DB00415"), _ddi("DB01060", "DB00682")]
    _, warnings = _check(rec, ["DB00682"], [], ddis)
    assert [(w.drug_id, w.other_id) for w in warnings] == [("DB01060", "DB00682")]
    ddis.append(_ddi("DB00722", "DB00415"))  # the two leading options
    _, warnings = _check(rec, ["DB00682"], [], ddis)
    assert ("DB00722", "DB00415") in [(w.drug_id, w.other_id) for w in warnings]


def _side_effects(tmp_path: Path) -> SideEffects:
    """A SIDER slice: metformin harms the kidney, hydrochlorothiazide causes gout (2%)."""
    (tmp_path / "safety").mkdir(exist_ok=True)
    with gzip.open(tmp_path / "safety" / "sider_side_effects.tsv.gz", "wt") as out:
        out.write("drugbank_id\tdrug_name\tumls_cui\tside_effect\tmax_frequency\tfrequency_labels\n"
                  "DB00331\tMetformin\tC1\tAcute prerenal failure\t\t\n"
                  "DB00331\tMetformin\tC2\tHypertension\t\t\n"
                  "DB00999\tHydrochlorothiazide\tC3\tHyperuricaemia\t0.02\t2%\n"
                  "DB00999\tHydrochlorothiazide\tC4\tRenal failure\t0.001\tpostmarketing\n"
                  "DB01132\tPioglitazone\tC5\tDyspnoea\t\t\n"
                  "DB00335\tAtenolol\tC6\tBronchospasm\t0.03\t1.2%\n")  # fmt: skip
    linked = {"Hypertension": "MESH:D006973", "Hyperuricaemia": "MESH:D033461",
              "Renal failure": "MESH:D051437", "Dyspnoea": "MESH:D004418"}  # fmt: skip
    below = {"MESH:D051437": ["MESH:D058186", "MESH:D051436"], "MESH:D006333": ["MESH:D004418"]}
    return SideEffects.from_settings(
        linked.get, lambda d: below.get(d, []), Settings(data_dir=tmp_path, home=tmp_path)
    )


def test_side_effects_keep_only_vulnerable_groups_and_reported_frequencies(tmp_path: Path) -> None:
    effects = _side_effects(tmp_path)
    # metformin: "Acute prerenal failure" is MedDRA for acute kidney injury, under renal
    # insufficiency; hypertension is no vulnerable group
    assert dict(effects.by_drug["DB00331"]) == {"kidney": ("Acute prerenal failure", None)}
    # hydrochlorothiazide: hyperuricaemia at 2% counts, renal failure at 0.1% does not
    assert dict(effects.by_drug["DB00999"]) == {"gout": ("Hyperuricaemia", 0.02)}
    assert "DB01132" not in effects.by_drug  # paroxysmal dyspnoea is a symptom, not heart failure
    assert effects.group_of(["DOID:784", "MESH:D051436"]) == "kidney"  # CKD, by an equivalent id
    empty = SideEffects.from_settings(
        lambda t: None, lambda d: [], Settings(data_dir=tmp_path / "x", home=tmp_path)
    )
    assert empty.by_drug == {}  # a bundle without SIDER: nothing is cautioned


def test_a_drug_that_can_worsen_another_condition_is_cautioned(tmp_path: Path) -> None:
    effects = _side_effects(tmp_path)
    diabetes, hypertension, ckd, gout = (
        "MESH:D003924",
        "MESH:D006973",
        "MESH:D051436",
        "MESH:D006073",
    )
    names = {ckd: "Renal Insufficiency, Chronic", gout: "Gout"}
    candidates = [
        ("DB00331", "Metformin", diabetes),
        ("DB00999", "Hydrochlorothiazide", hypertension),
    ]
    found = comorbidity_cautions(candidates, [diabetes, hypertension, ckd, gout], names, effects)
    assert set(found) == {"DB00331", "DB00999"}
    metformin, thiazide = found["DB00331"], found["DB00999"]
    assert "acute prerenal failure" in metformin.message
    assert "Renal Insufficiency, Chronic" in metformin.message
    assert "hyperuricaemia (up to 2% of patients)" in thiazide.message
    assert "Gout" in thiazide.message
    # a reported frequency makes a strong caution; a bare SIDER listing a weak one
    assert thiazide.strong and not metformin.strong
    # without the comorbidity there is no caution
    assert comorbidity_cautions(candidates, [diabetes, hypertension], names, effects) == {}
    # a drug proposed for a condition of the group is not cautioned for it
    for_gout = [("DB00999", "Hydrochlorothiazide", gout)]
    assert comorbidity_cautions(for_gout, [hypertension, gout], names, effects) == {}


def test_a_drug_whose_class_worsens_another_condition_is_cautioned(tmp_path: Path) -> None:
    effects = _side_effects(tmp_path)
    gout, ckd, diabetes = "MESH:D006073", "MESH:D051436", "MESH:D003924"
    names = {ckd: "Renal Insufficiency, Chronic", gout: "Gout"}
    classes = {"DB01628": {"ATC:M01AH"}, "DB04854": {"ATC:M04AA"}, "DB00222": {"ATC:A10BB"}}
    candidates = [
        ("DB01628", "Etoricoxib", gout),  # an NSAID: not in SIDER, cautioned by its class
        ("DB04854", "Febuxostat", gout),  # a xanthine oxidase inhibitor: no class caution
        ("DB00222", "Glimepiride", diabetes),
    ]
    found = comorbidity_cautions(
        candidates, [gout, ckd, diabetes], names, effects,
        classes_of=lambda d: classes.get(d, set()),
    )  # fmt: skip
    assert set(found) == {"DB01628", "DB00222"}
    nsaid = found["DB01628"].message
    assert nsaid.startswith("Comorbidity caution: Etoricoxib is an NSAID (M01AH)")
    assert "Renal Insufficiency, Chronic" in nsaid and "CrCl < 30" in nsaid
    assert "hypoglycaemia" in found["DB00222"].message
    assert found["DB01628"].strong and found["DB00222"].strong  # a class rule is strong
    # a class rule holds for the condition the drug is proposed for, too
    heart_failure = "MESH:D006333"
    for_failure = [("DB01628", "Etoricoxib", heart_failure)]
    alone = comorbidity_cautions(
        for_failure, [heart_failure], {heart_failure: "Heart Failure"}, effects,
        classes_of=lambda d: classes.get(d, set()),
    )  # fmt: skip
    assert "Heart Failure" in alone["DB01628"].message and alone["DB01628"].strong
    # no kidney disease, no class caution
    assert (
        comorbidity_cautions(
            candidates, [gout, diabetes], names, effects, classes_of=lambda d: classes.get(d, set())
        )
        == {}
    )


def test_febuxostat_is_cautioned_in_heart_failure_by_its_boxed_warning(tmp_path: Path) -> None:
    effects = _side_effects(tmp_path)
    gout, heart_failure = "MESH:D006073", "MESH:D006333"
    names = {gout: "Gout", heart_failure: "Heart Failure"}
    candidates = [("DB04854", "Febuxostat", gout), ("DB00437", "Allopurinol", gout)]
    found = comorbidity_cautions(candidates, [gout, heart_failure], names, effects)
    assert set(found) == {"DB04854"} and found["DB04854"].strong
    assert (
        "boxed warning" in found["DB04854"].message and "Heart Failure" in found["DB04854"].message
    )
    assert comorbidity_cautions(candidates, [gout], names, effects) == {}


def test_beta_blockers_fluoroquinolones_and_bupropion_are_cautioned_by_rule(tmp_path: Path) -> None:
    effects = _side_effects(tmp_path)
    # SIDER's MedDRA "Bronchospasm" is MeSH's "Bronchial Spasm", in the asthma/COPD group
    assert dict(effects.by_drug["DB00335"]) == {"bronchospasm": ("Bronchospasm", 0.03)}
    asthma, hypertension, myasthenia, epilepsy = (
        "MESH:D001249", "MESH:D006973", "MESH:D009157", "MESH:D004827",
    )  # fmt: skip
    names = {asthma: "Asthma", myasthenia: "Myasthenia Gravis", epilepsy: "Epilepsy"}
    classes = {
        "DB01359": {"ATC:C07AA"},  # penbutolol, non-selective: not in this SIDER
        "DB00381": {"ATC:C08CA"},  # amlodipine
        "DB01137": {"ATC:J01MA", "ATC:S01AE"},  # levofloxacin
    }
    candidates = [
        ("DB01359", "Penbutolol", hypertension),
        ("DB00335", "Atenolol", hypertension),
        ("DB00381", "Amlodipine", hypertension),
        ("DB01137", "Levofloxacin", "MESH:D011014"),
        ("DB01156", "Bupropion", "MESH:D003866"),
    ]
    found = comorbidity_cautions(
        candidates, [hypertension, asthma, myasthenia, epilepsy], names, effects,
        classes_of=lambda d: classes.get(d, set()),
    )  # fmt: skip
    assert set(found) == {"DB01359", "DB00335", "DB01137", "DB01156"}
    assert "non-selective beta-blocker (C07AA)" in found["DB01359"].message
    assert "bronchospasm (up to 3% of patients)" in found["DB00335"].message
    assert "Myasthenia Gravis" in found["DB01137"].message
    assert "seizure threshold" in found["DB01156"].message
    assert all(c.strong for c in found.values())
    # without asthma the beta-blockers are not cautioned
    plain = comorbidity_cautions(
        candidates[:3], [hypertension], names, effects, classes_of=lambda d: classes.get(d, set())
    )
    assert plain == {}
