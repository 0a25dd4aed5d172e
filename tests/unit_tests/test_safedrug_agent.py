"""The agent in set mode for the SafeDrug protocol: sets, safety rule, one call, no leakage.

A fake agent (no model, no store) answers; the MIMIC-III tables are hand-made.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from kedrec_agent.agent.result import AgentResult, ConditionAnswer, DrugRecommendation, Versions
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.patients.model import PatientInput
from kedrec_agent.reasoning.schema import EntityRef
from kedrec_agent.safety.checks import SafetyWarning
from training.evaluation.safedrug.agent import (
    AGENT_CEILING,
    CARRIED_SCORE,
    AgentSetMode,
    LeakageError,
    agent_score,
    class_scores,
    previous_admission,
    proposal_of,
)
from training.evaluation.safedrug.cohort import Cohort, build_cohort
from training.evaluation.safedrug.ddi import ClassDDI
from training.evaluation.safedrug.evaluate import ProtocolConfig, evaluate
from training.evaluation.safedrug.protocol import SET_THRESHOLD, recommended_set
from training.evaluation.safedrug.visits import Visit

NDC_CODES = {"n-ome": "A02B", "n-war": "B01A", "n-met": "C07A", "n-asa": "N02B", "n-lis": "C09A"}
NAMES = {"n-ome": "omeprazole", "n-war": "warfarin", "n-met": "metoprolol",
         "n-asa": "aspirin", "n-lis": "lisinopril"}  # fmt: skip
DRUG_IDS = {"omeprazole": ("DB_OME",), "warfarin": ("DB_WAR",), "metoprolol": ("DB_MET",),
            "aspirin": ("DB_ASA",), "lisinopril": ("DB_LIS",)}  # fmt: skip
CLASSES = {
    "DB_OME": frozenset({"A02B"}), "DB_WAR": frozenset({"B01A"}),
    "DB_MET": frozenset({"C07A"}), "DB_ASA": frozenset({"N02B", "B01A"}),
    "DB_LIS": frozenset({"C09A"}), "DB_IBU": frozenset({"M01A"}),
    "DB_VET": frozenset({"N02A"}),
}  # fmt: skip
DDI = ClassDDI.from_pairs([("B01A", "M01A")])

# (SUBJECT_ID, HADM_ID, ADMITTIME, NDC of its one prescription)
ADMISSIONS = [
    (1, 11, "2100-01-01 10:00:00", "n-ome"),
    (1, 12, "2100-02-01 10:00:00", "n-war"),
    (1, 13, "2100-03-01 10:00:00", "n-met"),
    (2, 21, "2110-01-01 10:00:00", "n-asa"),
    (2, 22, "2110-02-01 10:00:00", "n-lis"),
]


def _write(path: Path, header: list[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def mimic(tmp_path: Path) -> Path:
    folder = tmp_path / "mimic"
    folder.mkdir()
    _write(folder / "ADMISSIONS.csv", ["ROW_ID", "SUBJECT_ID", "HADM_ID", "ADMITTIME"],
           [(i, s, h, t) for i, (s, h, t, _) in enumerate(ADMISSIONS)])  # fmt: skip
    _write(folder / "PATIENTS.csv", ["SUBJECT_ID", "GENDER", "DOB"],
           [(1, "F", "2040-01-01 00:00:00"), (2, "M", "2050-01-01 00:00:00")])  # fmt: skip
    _write(folder / "DIAGNOSES_ICD.csv", ["SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"],
           [(s, h, 1, "4019") for s, h, _, _ in ADMISSIONS])  # fmt: skip
    _write(folder / "PROCEDURES_ICD.csv", ["SUBJECT_ID", "HADM_ID", "ICD9_CODE"],
           [(s, h, "3893") for s, h, _, _ in ADMISSIONS])  # fmt: skip
    _write(folder / "PRESCRIPTIONS.csv", ["SUBJECT_ID", "HADM_ID", "DRUG", "NDC"],
           [(s, h, NAMES[n], n) for s, h, _, n in ADMISSIONS])  # fmt: skip
    return folder


@pytest.fixture
def cohort(mimic: Path) -> Cohort:
    return build_cohort(mimic, ndc_table=dict(NDC_CODES))


def _drug(
    rank: int, drug_id: str, probability: float | None, score: float = 0.5
) -> DrugRecommendation:
    return DrugRecommendation(
        rank=rank, drug_id=drug_id, name=drug_id, score=score, probability=probability,
        rationale="", grounded=True, evidence=[],
    )  # fmt: skip


class FakeAgent:
    """Records the patients it gets; recommends ibuprofen-like and lisinopril, vetoes one."""

    def __init__(self) -> None:
        self.patients: list[PatientInput] = []

    def __call__(self, patient: PatientInput) -> AgentResult:
        self.patients.append(patient)
        return AgentResult(
            abstained=False,
            recommendations=[_drug(1, "DB_IBU", 0.8), _drug(2, "DB_LIS", None, score=0.4)],
            warnings=[
                SafetyWarning(kind="interaction", severity="veto", drug_id="DB_VET", message="x")
            ],
            versions=Versions.current(),
        )


def _mode(mimic: Path, agent: FakeAgent, **kwargs: object) -> AgentSetMode:
    return AgentSetMode(
        agent, mimic_dir=mimic, ddi=DDI, mapper=lambda name: DRUG_IDS.get(name, ()),
        classes=CLASSES, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def _visits(cohort: Cohort, subject: int) -> tuple[Visit, ...]:
    return next(p.visits for p in cohort.patients if p.subject_id == subject)


# --- set construction ------------------------------------------------------------------


def test_agent_score_is_in_the_set_and_below_carried() -> None:
    assert agent_score(None) == SET_THRESHOLD and agent_score(0.0) == SET_THRESHOLD
    assert agent_score(1.0) == AGENT_CEILING < CARRIED_SCORE
    assert agent_score(0.2) < agent_score(0.7) and agent_score(3.0) == AGENT_CEILING


def test_class_scores_carry_then_add_and_withhold_only_with_a_relation() -> None:
    ddi = ClassDDI.from_pairs([("B01A", "M01A"), ("C07A", "N02A")])
    proposed = {"M01A": 0.9, "C07A": 0.8, "N02A": 0.6, "A02B": 0.7}
    scores, withheld = class_scores({"B01A", "A02B"}, proposed, ddi)
    # M01A hits a carried class; N02A hits C07A, a proposed class kept before it (0.8 > 0.6).
    assert scores == {"A02B": 1.0, "B01A": 1.0, "C07A": 0.8}
    assert withheld == ["M01A", "N02A"]
    everything, none = class_scores({"B01A", "A02B"}, proposed, None)
    assert none == [] and set(everything) == {"A02B", "B01A", "C07A", "M01A", "N02A"}
    assert everything["A02B"] == CARRIED_SCORE  # a carried class keeps 1.0


def test_set_is_carried_classes_plus_agent_classes(mimic: Path, cohort: Cohort) -> None:
    first, second, third = _visits(cohort, 1)
    mode = _mode(mimic, FakeAgent())
    scores = mode.without_safety(third.without_medications(), (first, second))
    assert scores == {
        "B01A": CARRIED_SCORE,  # the previous visit's (warfarin), carried
        "M01A": agent_score(0.8),  # the agent's drug, by its probability
        "C09A": agent_score(0.4),  # no probability: its evidence score
        "N02A": SET_THRESHOLD,  # the vetoed drug, put back by the ablation
    }
    assert recommended_set(scores) == {"B01A", "M01A", "C09A", "N02A"}
    assert "A02B" not in scores  # only the previous visit is carried, not every earlier one


def test_safety_withholds_interacting_classes_and_vetoed_drugs(mimic: Path, cohort: Cohort) -> None:
    first, second, third = _visits(cohort, 1)
    mode = _mode(mimic, FakeAgent())
    safe = mode.with_safety(third.without_medications(), (first, second))
    assert safe == {"B01A": CARRIED_SCORE, "C09A": agent_score(0.4)}  # M01A x B01A, N02A vetoed
    assert mode.summary()["classes_withheld"] == 1
    unsafe = mode.without_safety(third.without_medications(), (first, second))
    assert {"M01A", "N02A"} <= recommended_set(unsafe)


def test_max_drugs_takes_turns_across_problems() -> None:
    a, b = EntityRef(id="D1", name="a"), EntityRef(id="D2", name="b")
    result = AgentResult(
        abstained=False,
        recommendations=[_drug(1, "X1", 0.9), _drug(2, "X2", 0.8), _drug(3, "Y1", 0.7)],
        conditions=[
            ConditionAnswer(condition=a, status="options", drug_ids=["X1", "X2"]),
            ConditionAnswer(condition=b, status="options", drug_ids=["Y1"]),
        ],
        versions=Versions.current(),
    )
    assert [d for d, _ in proposal_of(result, 2).drugs] == ["X1", "Y1"]
    assert [d for d, _ in proposal_of(result, None).drugs] == ["X1", "Y1", "X2"]


# --- one agent call per visit, shared ---------------------------------------------------


def test_one_agent_call_per_visit_shared_by_both_methods(mimic: Path, cohort: Cohort) -> None:
    agent = FakeAgent()
    mode = _mode(mimic, agent)
    result = evaluate(
        cohort, DDI, recommenders=mode.recommenders(),
        config=ProtocolConfig(baselines=False, resamples=10),
    )  # fmt: skip
    assert list(result["methods"]) == ["agent", "agent-no-safety"]
    assert sorted(p.source or "" for p in agent.patients) == ["mimic:12", "mimic:13", "mimic:22"]
    assert mode.summary()["calls"] == 3
    # the ablation adds the withheld M01A and the vetoed N02A: never a lower recall
    assert (
        result["methods"]["agent-no-safety"]["avg_classes"]
        > result["methods"]["agent"]["avg_classes"]
    )


def test_agent_failure_leaves_the_carried_classes(mimic: Path, cohort: Cohort) -> None:
    def broken(patient: PatientInput) -> AgentResult:
        raise InvalidInputError("no")

    first, second = _visits(cohort, 2)
    mode = AgentSetMode(
        broken, mimic_dir=mimic, ddi=DDI, mapper=lambda n: DRUG_IDS.get(n, ()), classes=CLASSES
    )
    assert mode.with_safety(second.without_medications(), (first,)) == {"N02B": CARRIED_SCORE}
    assert mode.summary()["failed"] == 1


# --- no leakage -------------------------------------------------------------------------


def test_no_prescription_of_the_evaluated_visit_reaches_the_agent(
    mimic: Path, cohort: Cohort
) -> None:
    agent = FakeAgent()
    evaluate(cohort, DDI, recommenders=_mode(mimic, agent).recommenders(),
             config=ProtocolConfig(baselines=False, resamples=10))  # fmt: skip
    own = {hadm: DRUG_IDS[NAMES[ndc]] for _, hadm, _, ndc in ADMISSIONS}
    previous = {12: 11, 13: 12, 22: 21}
    for patient in agent.patients:
        hadm = int((patient.source or "").removeprefix("mimic:"))
        assert not set(patient.medications) & set(own[hadm]), hadm
        assert tuple(patient.medications) == own[previous[hadm]]  # the previous visit's


def test_a_history_holding_the_evaluated_visit_is_refused(mimic: Path, cohort: Cohort) -> None:
    first, second, third = _visits(cohort, 1)
    assert previous_admission(third, (first, second)) == 12
    assert previous_admission(first, ()) is None
    with pytest.raises(LeakageError):
        previous_admission(third, (first, second, third))
    agent = FakeAgent()
    with pytest.raises(LeakageError):
        _mode(mimic, agent).with_safety(third.without_medications(), (first, third))
    assert agent.patients == []


# --- the command ------------------------------------------------------------------------


def test_cli_agent_option_adds_the_agent_rows(
    mimic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tests.unit_tests.test_safedrug_protocol import write_bundle
    from training.evaluation import cli
    from training.evaluation.safedrug import agent as agent_module
    from training.evaluation.suite import Harness

    monkeypatch.setenv("KEDREC_DATA_DIR", str(write_bundle(tmp_path / "bundle", NDC_CODES)))
    seen: dict[str, object] = {}

    def fake_from_agent(mimic_dir: Path | None, **settings: object) -> AgentSetMode:
        seen.update(settings)
        return _mode(mimic, FakeAgent())

    monkeypatch.setattr(agent_module.AgentSetMode, "from_agent", fake_from_agent)
    monkeypatch.setattr(Harness, "versions", lambda self: {"model": "fake"})
    out = tmp_path / "out"
    args = ["mimic", "--protocol", "safedrug", "--agent", "--mimic-dir", str(mimic),
            "--out", str(out)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["kedrec", "eval", *args])
    done = CliRunner().invoke(cli.app, args)
    assert done.exit_code == 0, done.output
    assert seen == {"max_drugs": 3, "literature": False}  # literature off by default here
    assert "agent-no-safety: Jaccard" in done.output and "agent in set mode: 3 calls" in done.output
    saved = json.loads((out / "mimic_safedrug.json").read_text())["mimic_safedrug"]
    assert {"repeat-previous", "agent", "agent-no-safety"} <= set(saved["methods"])
    assert saved["agent"]["calls"] == 3
    assert "| agent |" in (out / "mimic_safedrug.md").read_text()
