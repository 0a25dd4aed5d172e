"""Run the protocol: every method on the same visits, gold never shown, figures with CIs.

The evaluated visits are every later visit (index >= 1: there is a history) of the
evaluated patients:

* ``split="safedrug"`` (full MIMIC-III): SafeDrug's seeded 2/3 - 1/6 - 1/6 patient
  split; trained methods fit on the training patients, the test patients are evaluated
  (the validation patients are held back, unused by these fixed-setting baselines);
* ``split="lopo"`` (the demo's few patients): every patient evaluated, trained methods
  fitted leave-one-patient-out;
* ``split="auto"``: ``lopo`` under :data:`LOPO_MAX_PATIENTS` patients, else ``safedrug``.

Each recommender gets :meth:`Visit.without_medications` of the visit it answers and the
patient's earlier visits: no prescription of the evaluated visit reaches it. Extra
recommenders (the agent in set mode) run beside the baselines on the same visits.

Example:
    >>> result = run_protocol(recommenders={"agent": agent_set_recommender})  # doctest: +SKIP
    >>> result["methods"]["repeat-previous"]["jaccard"]  # doctest: +SKIP
    0.56
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from training.evaluation.metrics import ddi_rate, mean
from training.evaluation.safedrug.baselines import (
    diagnosis_frequency,
    logistic_regression,
    repeat_previous,
)
from training.evaluation.safedrug.cohort import Cohort, CohortFilters, build_cohort
from training.evaluation.safedrug.ddi import DEFAULT_LEVEL, ClassDDI, DDILevel, load_class_ddi
from training.evaluation.safedrug.neural import GRUConfig, gru_trainer
from training.evaluation.safedrug.protocol import SetRecommender, Trainer
from training.evaluation.safedrug.scoring import VisitScore, bootstrap, score_visit, summarize
from training.evaluation.safedrug.splits import Fold, leave_one_patient_out, safedrug_split
from training.evaluation.safedrug.visits import Patient

log = logging.getLogger(__name__)

SplitName = Literal["auto", "safedrug", "lopo"]

LOPO_MAX_PATIENTS = 100
"""With fewer cohort patients, ``split="auto"`` leaves one patient out."""

PAPERS: dict[str, dict[str, float]] = {
    "SafeDrug (Yang et al. 2021)": {"jaccard": 0.5213, "f1": 0.6768, "ddi_rate": 0.0589},
    "MoleRec (Yang et al. 2023)": {"f1": 0.6834},
    "CausalMed (Li et al. 2024)": {"f1": 0.6916},
    "KEDRec-LM (arXiv 2502.20350)": {"f1": 0.6919},
}
"""Published full-MIMIC-III figures (their own DDI relation: TWOSIDES-based)."""

NOT_COMPARABLE = (
    "The papers' figures are on the full MIMIC-III (about 6,350 patients after the "
    "filters) with a TWOSIDES-based DDI relation: they are not comparable with figures "
    "on this cohort ({label}), and their DDI rate is not comparable with ours."
)


@dataclass(frozen=True)
class ProtocolConfig:
    """How the protocol is run.

    Attributes:
        split: ``auto``, ``safedrug`` or ``lopo`` (see the module docstring).
        seed: seeds the split, the trained models and the bootstrap.
        resamples: bootstrap resamples for the 95% intervals.
        ddi_level: severity of the ATC-3 DDI relation (:mod:`.ddi`).
        baselines: run the four baselines (off: only the given recommenders).
        gru: hyper-parameters of the peer model (its seed is replaced by ``seed``).
    """

    split: SplitName = "auto"
    seed: int = 0
    resamples: int = 1000
    ddi_level: DDILevel = DEFAULT_LEVEL
    baselines: bool = True
    gru: GRUConfig = field(default_factory=GRUConfig)


def baseline_trainers(ddi: ClassDDI, gru: GRUConfig | None = None) -> dict[str, Trainer]:
    """The protocol's baselines by name, in report order."""
    return {
        "repeat-previous": repeat_previous,
        "diagnosis-frequency": diagnosis_frequency,
        "logistic-regression": logistic_regression,
        "gru-ddi (SafeDrug-style)": gru_trainer(ddi, gru),
    }


def folds(patients: Sequence[Patient], split: SplitName, seed: int) -> tuple[str, list[Fold]]:
    """The split actually used and its folds."""
    chosen = split
    if split == "auto":
        chosen = "lopo" if len(patients) < LOPO_MAX_PATIENTS else "safedrug"
    if chosen == "lopo":
        return chosen, list(leave_one_patient_out(patients))
    parts = safedrug_split(patients, seed)
    return chosen, [Fold(train=parts.train, evaluate=parts.test)]


def _answer(
    recommend: SetRecommender, patients: Iterable[Patient], ddi: ClassDDI
) -> list[VisitScore]:
    rows = []
    for patient in patients:
        for index in range(1, len(patient.visits)):
            visit = patient.visits[index]
            scores = recommend(visit.without_medications(), patient.visits[:index])
            rows.append(score_visit(patient.subject_id, scores, visit.medications, ddi))
    return rows


def evaluate(
    cohort: Cohort,
    ddi: ClassDDI,
    *,
    trainers: Mapping[str, Trainer] | None = None,
    recommenders: Mapping[str, SetRecommender] | None = None,
    config: ProtocolConfig | None = None,
) -> dict[str, Any]:
    """Every method on the cohort's evaluated visits.

    Args:
        cohort: the protocol's patients (:func:`.cohort.build_cohort`).
        ddi: the ATC-3 interaction relation of the DDI rate.
        trainers: methods fitted per fold on the training patients (default: the
            baselines, :func:`baseline_trainers`, when ``config.baselines``).
        recommenders: ready methods (no training), e.g. the agent in set mode.
        config: split, seed, bootstrap.

    Returns:
        ``split`` (name, folds, patients), ``methods`` (per method the figures of
        :data:`.scoring.FIGURES`, ``ci95`` intervals and ``seconds``), ``ground_truth``
        (classes per visit and DDI rate of the prescribed sets, evaluated visits and all).
    """
    cfg = config or ProtocolConfig()
    gru = dataclasses.replace(cfg.gru, seed=cfg.seed)
    methods: dict[str, Trainer] = dict(baseline_trainers(ddi, gru)) if cfg.baselines else {}
    methods.update(trainers or {})
    split, rounds = folds(cohort.patients, cfg.split, cfg.seed)
    evaluated = [p for fold in rounds for p in fold.evaluate]
    rows: dict[str, list[VisitScore]] = {}
    seconds: dict[str, float] = {}
    for name, train in methods.items():
        started = time.perf_counter()
        rows[name] = []
        for fold in rounds:
            rows[name] += _answer(train(fold.train), fold.evaluate, ddi)
        seconds[name] = time.perf_counter() - started
        log.info("%s: %.1f s", name, seconds[name])
    for name, recommend in (recommenders or {}).items():
        started = time.perf_counter()
        rows[name] = _answer(recommend, evaluated, ddi)
        seconds[name] = time.perf_counter() - started
    results = {}
    for name, scored in rows.items():
        ci = bootstrap(scored, resamples=cfg.resamples, seed=cfg.seed)
        results[name] = {
            **summarize(scored),
            "ci95": {k: [lo, hi] for k, (lo, hi) in ci.items()},
            "seconds": round(seconds[name], 2),
        }
    later = [p.visits[i].medications for p in evaluated for i in range(1, len(p.visits))]
    every = [v.medications for p in cohort.patients for v in p.visits]
    return {
        "split": {
            "name": split,
            "folds": len(rounds),
            "patients_evaluated": len(evaluated),
            "patients_train": len(rounds[0].train) if rounds else 0,
            "visits_evaluated": len(later),
            "seed": cfg.seed,
        },
        "methods": results,
        "ground_truth": {
            "avg_classes": mean(float(len(s)) for s in later),
            "ddi_rate": ddi_rate(later, ddi.interacts),
            "avg_classes_all_visits": mean(float(len(s)) for s in every),
            "ddi_rate_all_visits": ddi_rate(every, ddi.interacts),
        },
        "bootstrap": {"resamples": cfg.resamples, "unit": "patient", "interval": "percentile"},
    }


def run_protocol(
    mimic_dir: Path | None = None,
    *,
    recommenders: Mapping[str, SetRecommender] | None = None,
    trainers: Mapping[str, Trainer] | None = None,
    config: ProtocolConfig | None = None,
    filters: CohortFilters | None = None,
    ndc_table: Path | None = None,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Build the cohort and the DDI relation, evaluate every method; a JSON-able result.

    Args:
        mimic_dir: MIMIC-III tables (default: the bundled demo).
        recommenders: extra ready methods (the agent in set mode), by name.
        trainers: extra trained methods, by name.
        config: split, seed, bootstrap, DDI level.
        filters: cohort filters (default: SafeDrug's).
        ndc_table: NDC -> ATC-3 table (default: the bundle's).
        data_dir: the data bundle for the DDI files (default: ``KEDREC_DATA_DIR``).

    Returns:
        :func:`evaluate`'s result with ``cohort`` (size, coverage, filter counts),
        ``ddi`` (the relation's level and size), ``label`` (``"demo, N patients"`` for
        a cohort that is not the full MIMIC-III's size), the papers' figures and the
        note that they are not comparable, and ``seconds``.
    """
    cfg = config or ProtocolConfig()
    started = time.perf_counter()
    cohort = build_cohort(mimic_dir, ndc_table=ndc_table, filters=filters)
    ddi = load_class_ddi(cfg.ddi_level, data_dir)
    result = evaluate(cohort, ddi, trainers=trainers, recommenders=recommenders, config=cfg)
    patients = len(cohort.patients)
    label = (
        f"demo, {patients} patients"
        if patients < LOPO_MAX_PATIENTS
        else f"MIMIC-III, {patients} patients"
    )
    return {
        **result,
        "protocol": "SafeDrug/GAMENet medication-set protocol (ATC-3 classes)",
        "label": label,
        "cohort": cohort.summary(),
        "ddi": ddi.summary(cohort.classes),
        "ddi_note": (
            f"DDI rate over an ATC-3 relation of our own: two classes interact if any "
            f"DrugBank pair across them does, at level {ddi.level!r} "
            "(DDInter severities; 'any' adds ogbl-ddi pairs)."
        ),
        "papers": PAPERS,
        "papers_note": NOT_COMPARABLE.format(label=label),
        "name_fallback": "none: prescriptions whose NDC is not in the table are left out",
        "seconds": round(time.perf_counter() - started, 1),
    }
