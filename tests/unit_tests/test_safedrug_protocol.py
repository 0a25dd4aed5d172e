"""The SafeDrug/GAMENet MIMIC-III protocol: cohort, NDC parsing, metrics, splits, no leakage."""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from kedrec_agent.config import Settings
from training.evaluation.metrics import ddi_rate
from training.evaluation.safedrug.baselines import (
    diagnosis_frequency,
    logistic_regression,
    repeat_previous,
)
from training.evaluation.safedrug.cohort import (
    NDC_TABLE,
    Cohort,
    CohortFilters,
    admit_time,
    build_cohort,
    normalize_ndc,
)
from training.evaluation.safedrug.ddi import ClassDDI, load_class_ddi
from training.evaluation.safedrug.evaluate import ProtocolConfig, evaluate
from training.evaluation.safedrug.neural import GRUConfig, train_gru
from training.evaluation.safedrug.protocol import around_threshold, ranking, recommended_set
from training.evaluation.safedrug.report import markdown, write_outputs
from training.evaluation.safedrug.scoring import bootstrap, score_visit, summarize
from training.evaluation.safedrug.splits import leave_one_patient_out, safedrug_split
from training.evaluation.safedrug.visits import Patient, Visit

NDC_CODES = {
    "00002140701": "A02B",
    "00904770418": "A01A",
    "12345678901": "B01A",
    "00009000001": "C07A",
}

# (SUBJECT_ID, HADM_ID, ADMITTIME)
ADMISSIONS = [
    (1, 101, "2100-01-05 10:00:00"),
    (1, 102, "2100-03-01 10:00:00"),
    (1, 100, "2100-06-01 10:00:00"),  # the lowest HADM_ID is the latest visit
    (2, 201, "2120-01-01 10:00:00"),
    (2, 202, "2120-05-01 10:00:00"),  # no mapped prescription -> patient 2 left with one
    (3, 301, "2130-01-01 10:00:00"),  # a single admission
    (4, 401, "2140-01-01 10:00:00"),
    (4, 402, "2140-02-01 10:00:00"),
    (4, 403, "2140-03-01 10:00:00"),  # no procedure -> dropped, patient 4 keeps two
]
DIAGNOSES = [
    (1, 101, "4019"), (1, 101, "25000"), (1, 102, "4019"), (1, 100, "V4581"),
    (2, 201, "4019"), (2, 202, "4019"), (3, 301, "4280"),
    (4, 401, "4280"), (4, 402, "4280"), (4, 402, "4019"), (4, 403, "4280"),
]  # fmt: skip
PROCEDURES = [
    (1, 101, "3893"), (1, 102, "3893"), (1, 100, "9904"),
    (2, 201, "3893"), (2, 202, "3893"), (3, 301, "3893"),
    (4, 401, "3893"), (4, 402, "9904"),
]  # fmt: skip
PRESCRIPTIONS = [
    (1, 101, "00002140701"), (1, 101, "00904770418"), (1, 101, "00002140701"),
    (1, 102, "00002140701"), (1, 102, "12345678901"),
    (1, 100, "00009000001"),
    (2, 201, "12345678901"),
    (2, 202, "0"), (2, 202, ""), (2, 202, "2140701"),  # "2140701" is not "00002140701"
    (3, 301, "12345678901"),
    (4, 401, "12345678901"), (4, 401, "99999999999"),
    (4, 402, "12345678901"), (4, 402, "00009000001"),
    (4, 403, "00009000001"),
]  # fmt: skip


def _write(path: Path, header: list[str], rows: Sequence[Sequence[object]]) -> None:
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_mimic(folder: Path, *, gz: bool = False, lower: bool = False) -> Path:
    """The hand-made admissions as MIMIC-III tables (optionally .csv.gz, lower-case)."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".csv.gz" if gz else ".csv"

    def cols(*names: str) -> list[str]:
        return [n.lower() if lower else n for n in names]

    _write(folder / f"ADMISSIONS{suffix}", cols("ROW_ID", "SUBJECT_ID", "HADM_ID", "ADMITTIME"),
           [(i, *row) for i, row in enumerate(ADMISSIONS)])  # fmt: skip
    _write(folder / f"DIAGNOSES_ICD{suffix}", cols("SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"),
           [(s, h, 1, c) for s, h, c in DIAGNOSES])  # fmt: skip
    _write(folder / f"PROCEDURES_ICD{suffix}", cols("SUBJECT_ID", "HADM_ID", "ICD9_CODE"),
           PROCEDURES)  # fmt: skip
    _write(folder / f"PRESCRIPTIONS{suffix}", cols("SUBJECT_ID", "HADM_ID", "DRUG", "NDC"),
           [(s, h, "drug", n) for s, h, n in PRESCRIPTIONS])  # fmt: skip
    return folder


@pytest.fixture
def cohort(tmp_path: Path) -> Cohort:
    return build_cohort(write_mimic(tmp_path / "mimic"), ndc_table=dict(NDC_CODES))


# --- cohort ------------------------------------------------------------------------------


def test_cohort_drops_single_admission_patients_and_visits_without_meds(cohort: Cohort) -> None:
    assert [p.subject_id for p in cohort.patients] == [1, 4]
    assert [v.hadm_id for v in cohort.patients[1].visits] == [401, 402]  # 403: no procedure
    assert cohort.counts["patients_kept"] == 2 and cohort.visit_count == 5


def test_visits_are_ordered_by_admission_time_not_hadm_id(cohort: Cohort) -> None:
    assert [v.hadm_id for v in cohort.patients[0].visits] == [101, 102, 100]
    assert cohort.patients[0].visits[0].admitted == "2100-01-05 10:00"


def test_visit_sets_are_the_mapped_classes_and_codes(cohort: Cohort) -> None:
    first, second, third = cohort.patients[0].visits
    assert first.medications == {"A02B", "A01A"}
    assert second.medications == {"A02B", "B01A"}
    assert third.medications == {"C07A"}
    assert first.diagnoses == {"4019", "25000"} and first.procedures == {"3893"}
    assert cohort.classes == ("A01A", "A02B", "B01A", "C07A")


def test_ndc_is_text_and_zero_or_empty_is_dropped(cohort: Cohort) -> None:
    assert normalize_ndc("00002140701") == "00002140701"
    assert normalize_ndc("0") is None and normalize_ndc(" ") is None
    # 16 rows; "0" and "" invalid; "2140701" and "99999999999" valid but not in the table.
    assert cohort.coverage["rows"] == 16
    assert cohort.coverage["rows_valid_ndc"] == 14
    assert cohort.coverage["rows_mapped"] == 12
    assert cohort.coverage["row_coverage"] == pytest.approx(12 / 14)


def test_leading_zeros_matter_in_the_ndc_table(tmp_path: Path) -> None:
    table = tmp_path / "ndc.tsv"
    table.write_text("ndc\tatc3\n2140701\tN02B\n00002140701\tA02B\n")
    built = build_cohort(write_mimic(tmp_path / "mimic"), ndc_table=table)
    assert built.patients[0].visits[0].medications == {"A02B"}  # not N02B
    assert built.coverage["rows_mapped"] == 4  # three 00002140701 rows, 2140701 of 202


def test_gzipped_lower_case_tables_read_the_same(tmp_path: Path, cohort: Cohort) -> None:
    other = build_cohort(write_mimic(tmp_path / "gz", gz=True, lower=True), ndc_table=NDC_CODES)
    assert other.patients == cohort.patients


def test_filters_can_keep_single_visit_patients(tmp_path: Path) -> None:
    built = build_cohort(
        write_mimic(tmp_path / "m"), ndc_table=NDC_CODES, filters=CohortFilters(min_visits=1)
    )
    assert [p.subject_id for p in built.patients] == [1, 2, 3, 4]


def test_admit_time_reads_both_formats_and_undoes_a_century_wrap(tmp_path: Path) -> None:
    assert admit_time("10/23/64 21:09") == "2164-10-23 21:09"
    assert admit_time("2146-07-21 00:00:00") == "2146-07-21 00:00"
    folder = write_mimic(tmp_path / "m")
    rows = [(1, 101, "10/29/98 6:54"), (1, 102, "3/17/00 20:32"), (1, 100, "1/13/99 17:13")]
    _write(folder / "ADMISSIONS.csv", ["SUBJECT_ID", "HADM_ID", "ADMITTIME"], rows)
    built = build_cohort(folder, ndc_table=NDC_CODES)
    assert [v.hadm_id for v in built.patients[0].visits] == [101, 100, 102]


# --- metrics ------------------------------------------------------------------------------

AB = ClassDDI.from_pairs([("A", "B")])


def test_visit_metrics_by_hand() -> None:
    row = score_visit(1, {"A": 1.0, "B": 0.9, "C": 0.3}, {"A", "C", "D"}, AB)
    assert row.jaccard == pytest.approx(1 / 4)  # set {A, B}
    assert row.precision == pytest.approx(1 / 2) and row.recall == pytest.approx(1 / 3)
    assert row.f1 == pytest.approx(0.4)
    assert row.prauc == pytest.approx((1 + 2 / 3) / 3)  # ranked A, B, C; D never ranked
    assert (row.ddi_pairs, row.pairs, row.avg_classes) == (1, 1, 2.0)


def test_ddi_rate_is_pooled_over_sets() -> None:
    rows = [
        score_visit(1, {"A": 1.0, "B": 1.0}, {"A"}, AB),  # 1 of 1 pair
        score_visit(2, {"A": 1.0, "B": 1.0, "C": 1.0}, {"A"}, AB),  # 1 of 3
    ]
    got = summarize(rows)
    assert got["ddi_rate"] == pytest.approx(2 / 4)  # not the mean of 1 and 1/3
    assert got["ddi_rate"] == pytest.approx(ddi_rate([{"A", "B"}, {"A", "B", "C"}], AB.interacts))
    assert got["jaccard"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert got["avg_classes"] == 2.5 and got["visits"] == 2


def test_class_ddi_aggregates_drug_pairs_to_classes() -> None:
    classes = {"DB1": frozenset({"A01A"}), "DB2": frozenset({"B01A", "C07A"})}
    ddi = ClassDDI.from_drug_pairs([("DB1", "DB2"), ("DB2", "DB9")], classes)
    assert ddi.interacts("B01A", "A01A") and ddi.interacts("A01A", "C07A")
    assert not ddi.interacts("B01A", "C07A")  # same drug, not an interaction
    assert ddi.drug_pairs == 1


def test_ddi_levels_from_bundle_files(tmp_path: Path) -> None:
    (tmp_path / "safety").mkdir()
    (tmp_path / "kg").mkdir()
    (tmp_path / "safety" / "atc_drugbank42.tsv").write_text(
        "drugbank_id\tdrug_name\tatc_code\nDB1\ta\tA01AA01\nDB2\tb\tB01AC06\nDB3\tc\tC07AB02\n"
        "DB4\td\tN02BE01\n"
    )
    header = "drugbank_id_1\tdrug_name_1\tdrugbank_id_2\tdrug_name_2\tlevel\n"
    with gzip.open(tmp_path / "safety" / "ddinter_severity.tsv.gz", "wt") as handle:
        handle.write(header + "DB1\ta\tDB2\tb\tMajor\nDB2\tb\tDB3\tc\tModerate\n")
        handle.write("DB1\ta\tDB3\tc\tMinor\n")
    for name in ("drkg_ddi.tsv.gz", "drkg_ddi_extra.tsv.gz"):
        with gzip.open(tmp_path / "kg" / name, "wt") as handle:
            rel = "DRUGBANK::ddi-interactor-in::Compound:Compound"
            handle.write(f"Compound::DB3\t{rel}\tCompound::DB4\n")
    major = load_class_ddi("major", tmp_path)
    moderate = load_class_ddi("moderate", tmp_path)
    every = load_class_ddi("any", tmp_path)
    assert major.pairs == {("A01A", "B01A")}
    assert moderate.pairs == {("A01A", "B01A"), ("B01A", "C07A")}
    assert every.pairs == moderate.pairs | {("A01A", "C07A"), ("C07A", "N02B")}


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    rows = [
        score_visit(s, {"A": 1.0, "B": 1.0}, gold, AB)
        for s, gold in [(1, {"A"}), (1, {"A", "B"}), (2, {"C"}), (3, {"B"}), (4, {"A", "C"})]
    ]
    first = bootstrap(rows, resamples=200, seed=3)
    assert first == bootstrap(rows, resamples=200, seed=3)
    assert first != bootstrap(rows, resamples=200, seed=4)
    mean = summarize(rows)["jaccard"]
    assert first["jaccard"][0] <= mean <= first["jaccard"][1]
    assert first["jaccard"][0] < first["jaccard"][1]


def test_bootstrap_resamples_patients_not_visits() -> None:
    # One patient: every resample is that patient, so the interval has no width.
    rows = [score_visit(7, {"A": 1.0}, gold, AB) for gold in ({"A"}, {"B"}, {"A", "B"})]
    low, high = bootstrap(rows, resamples=100, seed=0)["jaccard"]
    assert low == pytest.approx(high) == pytest.approx(summarize(rows)["jaccard"])


def test_scores_cut_at_one_half_and_rank_by_score() -> None:
    assert recommended_set({"A": 0.5, "B": 0.49, "C": 0.9}) == {"A", "C"}
    assert ranking({"B": 0.2, "A": 0.2, "C": 0.9}) == ["C", "A", "B"]
    values = [around_threshold(s / 10, 0.3) for s in range(11)]
    assert values == sorted(values) and around_threshold(0.3, 0.3) == 0.5


# --- splits -------------------------------------------------------------------------------


def _patients(n: int) -> list[Patient]:
    return [
        Patient(i, tuple(Visit(i, 10 * i + k, "", frozenset(), frozenset(), frozenset())
                         for k in range(2)))
        for i in range(n)
    ]  # fmt: skip


def test_safedrug_split_proportions_disjoint_and_seeded() -> None:
    patients = _patients(60)
    split = safedrug_split(patients, seed=1)
    assert (len(split.train), len(split.test), len(split.validation)) == (40, 10, 10)
    ids = [p.subject_id for part in (split.train, split.test, split.validation) for p in part]
    assert sorted(ids) == list(range(60))
    assert split == safedrug_split(patients, seed=1)
    assert split.train != safedrug_split(patients, seed=2).train
    assert [len(x) for x in safedrug_split(_patients(7)).__dict__.values()] == [4, 2, 1]


def test_leave_one_patient_out_evaluates_each_once() -> None:
    folds = list(leave_one_patient_out(_patients(4)))
    assert [f.evaluate[0].subject_id for f in folds] == [0, 1, 2, 3]
    assert all(f.evaluate[0] not in f.train and len(f.train) == 3 for f in folds)


# --- no leakage ---------------------------------------------------------------------------


def test_no_prescription_of_the_evaluated_visit_reaches_a_recommender(cohort: Cohort) -> None:
    seen: list[tuple[Visit, tuple[Visit, ...]]] = []
    trained_on: list[set[int]] = []

    def spy(visit: Visit, history: Sequence[Visit]) -> Mapping[str, float]:
        seen.append((visit, tuple(history)))
        return {"A02B": 1.0}

    def spy_trainer(patients: Sequence[Patient]) -> Any:
        trained_on.append({p.subject_id for p in patients})
        return spy

    config = ProtocolConfig(split="lopo", resamples=10, baselines=False)
    result = evaluate(cohort, AB, trainers={"t": spy_trainer}, recommenders={"r": spy},
                      config=config)  # fmt: skip
    assert len(seen) == 2 * 3  # two methods, three later visits
    by_hadm = {v.hadm_id: v for p in cohort.patients for v in p.visits}
    for visit, history in seen:
        assert visit.medications == frozenset()
        assert by_hadm[visit.hadm_id].medications  # the real visit had some
        assert all(h.hadm_id != visit.hadm_id for h in history)
        assert all(h.admitted <= visit.admitted for h in history)
        assert [h.hadm_id for h in history] == [
            v.hadm_id for v in next(p for p in cohort.patients if p.subject_id ==
                                    visit.subject_id).visits
        ][: len(history)]  # fmt: skip
    assert trained_on == [{4}, {1}]  # each fold trains without the evaluated patient
    assert result["split"]["visits_evaluated"] == 3


def test_safedrug_split_trains_without_test_patients() -> None:
    patients = [
        Patient(i, tuple(Visit(i, 10 * i + k, "", frozenset({"d"}), frozenset({"p"}),
                               frozenset({"A"})) for k in range(2)))
        for i in range(12)
    ]  # fmt: skip
    cohort = Cohort(tuple(patients), ("A",))
    trained_on: list[set[int]] = []

    def spy_trainer(train: Sequence[Patient]) -> Any:
        trained_on.append({p.subject_id for p in train})
        return repeat_previous(train)

    config = ProtocolConfig(split="safedrug", resamples=10, baselines=False, seed=5)
    result = evaluate(cohort, AB, trainers={"t": spy_trainer}, config=config)
    test = {p.subject_id for p in safedrug_split(patients, seed=5).test}
    assert len(trained_on) == 1 and not trained_on[0] & test and len(trained_on[0]) == 8
    assert result["split"]["patients_evaluated"] == 2
    assert result["methods"]["t"]["jaccard"] == 1.0


# --- baselines ----------------------------------------------------------------------------


def _visit(subject: int, hadm: int, diagnoses: set[str], meds: set[str]) -> Visit:
    return Visit(subject, hadm, "", frozenset(diagnoses), frozenset({"p"}), frozenset(meds))


TRAIN = [
    Patient(s, (_visit(s, 10 * s, {"x"}, {"A", "C"}), _visit(s, 10 * s + 1, {"y"}, {"B", "C"})))
    for s in range(1, 7)
]


def test_repeat_previous_returns_the_previous_set() -> None:
    recommend = repeat_previous([])
    visit = _visit(1, 2, {"x"}, set())
    assert recommend(visit, [_visit(1, 1, {"x"}, {"A", "B"})]) == {"A": 1.0, "B": 1.0}
    assert recommend(visit, []) == {}


def test_diagnosis_frequency_scores_classes_seen_with_the_diagnoses() -> None:
    recommend = diagnosis_frequency(TRAIN)
    scores = recommend(_visit(9, 90, {"x"}, set()), [])
    assert recommended_set(scores) == {"A", "C"}
    assert "B" not in scores  # never prescribed with x
    fallback = recommend(_visit(9, 91, {"unseen"}, set()), [])  # overall class frequency
    assert ranking(fallback)[0] == "C" and set(fallback) == {"A", "B", "C"}


def test_logistic_regression_learns_diagnosis_to_class() -> None:
    recommend = logistic_regression(TRAIN, c=10.0)
    scores = recommend(_visit(9, 91, {"y"}, set()), [_visit(9, 90, {"x"}, {"A", "C"})])
    assert set(scores) == {"A", "B", "C"}
    assert recommended_set(scores) == {"B", "C"}


def test_gru_is_seeded_and_scores_every_class() -> None:
    ddi = ClassDDI.from_pairs([("A", "B")])
    config = GRUConfig(dim=8, min_steps=40, seed=2)
    visit, history = _visit(9, 91, {"y"}, set()), [_visit(9, 90, {"x"}, {"A", "C"})]
    first = train_gru(TRAIN, ddi, config)(visit, history)
    assert first == train_gru(TRAIN, ddi, config)(visit, history)
    assert set(first) == {"A", "B", "C"} and all(0 <= s <= 1 for s in first.values())
    assert first["C"] > 0.5 > first["A"]  # C always prescribed, A never at the second visit


# --- report and CLI -----------------------------------------------------------------------


def _result(cohort: Cohort) -> dict[str, Any]:
    from training.evaluation.safedrug.evaluate import PAPERS

    result = evaluate(
        cohort, AB, trainers={"repeat": repeat_previous},
        config=ProtocolConfig(resamples=20, baselines=False),
    )  # fmt: skip
    label = f"demo, {len(cohort.patients)} patients"
    return {**result, "label": label, "cohort": cohort.summary(), "ddi": AB.summary(),
            "papers": PAPERS, "papers_note": "not comparable"}  # fmt: skip


def test_report_writes_table_plot_and_json(cohort: Cohort, tmp_path: Path) -> None:
    result = _result(cohort)
    text = markdown(result)
    assert "(demo, 2 patients)" in text and "| repeat |" in text
    assert "SafeDrug (Yang et al. 2021), full MIMIC-III | 0.5213 |" in text
    paths = write_outputs(result, tmp_path, {"command": "x"})
    assert paths["plot"].stat().st_size > 1000
    saved = json.loads(paths["json"].read_text())
    assert saved["command"] == "x" and "repeat" in saved["mimic_safedrug"]["methods"]


def test_the_eval_report_has_the_protocols_section_and_plot(cohort: Cohort, tmp_path: Path) -> None:
    from training.evaluation.report import write_report

    text = write_report({"mimic_safedrug": _result(cohort)}, tmp_path).read_text()
    assert "## MIMIC-III, SafeDrug/GAMENet protocol (demo, 2 patients)" in text
    assert "| repeat |" in text and "mimic_safedrug.png" in text
    assert (tmp_path / "mimic_safedrug.png").stat().st_size > 1000


def write_bundle(bundle: Path, ndc_codes: Mapping[str, str]) -> Path:
    """A data bundle with the protocol's three files: NDC -> ATC-3, drug ATC codes, DDIs."""
    (bundle / "mimic_protocol").mkdir(parents=True)
    (bundle / "safety").mkdir()
    rows = "".join(f"{ndc}\t{atc}\n" for ndc, atc in ndc_codes.items())
    (bundle / "mimic_protocol" / "ndc_to_atc3.tsv").write_text("ndc\tatc3\n" + rows)
    (bundle / "safety" / "atc_drugbank42.tsv").write_text(
        "drugbank_id\tdrug_name\tatc_code\nDB1\ta\tA02BC01\nDB2\tb\tB01AC06\n"
    )
    with gzip.open(bundle / "safety" / "ddinter_severity.tsv.gz", "wt") as handle:
        handle.write("drugbank_id_1\tdrugbank_id_2\tlevel\nDB1\tDB2\tMajor\n")
    return bundle


def test_cli_protocol_safedrug_runs_and_saves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from training.evaluation import cli

    monkeypatch.setenv("KEDREC_DATA_DIR", str(write_bundle(tmp_path / "bundle", NDC_CODES)))
    mimic, out = write_mimic(tmp_path / "mimic"), tmp_path / "out"
    args = ["mimic", "--protocol", "safedrug", "--mimic-dir", str(mimic), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", ["kedrec", "eval", *args])
    done = CliRunner().invoke(cli.app, args)
    assert done.exit_code == 0, done.output
    assert "repeat-previous: Jaccard" in done.output and "not comparable" in done.output
    saved = json.loads((out / "mimic_safedrug.json").read_text())
    assert saved["command"].startswith("kedrec eval mimic --protocol safedrug")
    assert saved["mimic_safedrug"]["split"]["visits_evaluated"] == 3
    assert (out / "mimic_safedrug.md").is_file() and (out / "mimic_safedrug.png").is_file()


BUNDLE = Settings.from_env().data_dir


@pytest.mark.skipif(
    not (BUNDLE / "mimic_protocol").is_dir(), reason="the data bundle's protocol files are absent"
)
def test_demo_cohort_and_repeat_previous_match_the_measured_figures() -> None:
    built = build_cohort(BUNDLE / "patients" / "mimic3_demo", ndc_table=BUNDLE / NDC_TABLE)
    assert built.visit_count - len(built.patients) == 25  # the 25 later visits
    assert 0.70 <= built.coverage["row_coverage"] <= 0.80  # the bundle's "76% of valid rows"
    result = evaluate(
        built, AB, trainers={"repeat": repeat_previous},
        config=ProtocolConfig(resamples=10, baselines=False),
    )  # fmt: skip
    figures = result["methods"]["repeat"]
    assert figures["jaccard"] == pytest.approx(0.55, abs=0.03)
    assert figures["f1"] == pytest.approx(0.69, abs=0.03)
