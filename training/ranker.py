"""Train the learned, calibrated candidate ranker (``kedrec train ranker``).

Rows come from the **train** split's expRxRec-style tasks only (:mod:`training.tasks`): a
task list that touches a disease of the dev split is refused (:func:`refuse_leakage`). Each
task gives two groups of five candidate rows:

* **repurposing** (the protocol): the graph masked with the task's exclusions (every
  indication edge of the disease, the gold included), evidence gathered as the agent and
  the evaluation harness gather it (:mod:`training.ranker_data`);
* **known indication**: the same task with the positive's own indication edges visible
  (every other exclusion kept), added only where the positive has such an edge, so that
  the ranker also learns to trust a direct indication.

Features are :func:`kedrec_agent.ranking.features.candidate_features` (the serving
function) of each candidate, expanded by :func:`kedrec_agent.ranking.model.expand` (each
value and its gap to the best candidate). One row per candidate, positive = the task's
true drug. The model is scikit-learn's ``LogisticRegression`` (standardised inputs) or
``GradientBoostingClassifier`` (regression trees), family and setting chosen among
:data:`CONFIGS` by cross-validation on the train split, grouped by disease (never on
dev). The chosen configuration is refitted on all rows, exported to JSON
(:func:`export_model`: weights, or the trees' node arrays, served with numpy by
:class:`~kedrec_agent.ranking.model.Ranker`) and calibrated by a softmax temperature over
each task's candidates, fitted on its out-of-fold scores.

Example:
    >>> rows = build_rows(tasks, evidence, kg, tables)  # doctest: +SKIP
    >>> result = train_ranker(rows, seed=0)  # doctest: +SKIP
    >>> write_artifact(result, Path("ranker.json"))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kedrec_agent import __version__
from kedrec_agent.agent.evidence import EVIDENCE_VERSION
from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.kg.build import data_version
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import Linker, get_linker
from kedrec_agent.literature.search import LiteratureSearch
from kedrec_agent.ranking.features import FEATURE_NAMES, FEATURES_VERSION, candidate_features
from kedrec_agent.ranking.literature import ConditionLiterature, condition_literature
from kedrec_agent.ranking.model import (
    ARTIFACT_SCHEMA,
    Ranker,
    TreeScorer,
    expand,
    expanded_names,
    softmax,
)
from kedrec_agent.ranking.semantic import NameSimilarity, optional_similarity
from kedrec_agent.ranking.tables import DrugTables
from training.ranker_data import (
    EvidenceCache,
    EvidenceSources,
    TaskEvidence,
    known_view,
    masked_view,
)
from training.tasks.files import file_hash, training_dir
from training.tasks.inputs import disease_concept, read_diseases
from training.tasks.schema import Task

log = logging.getLogger(__name__)

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
"""Inverse regularisation strengths of the logistic regression tried by cross-validation."""
BOOSTING_GRID = ((2, 300), (2, 600), (3, 300), (4, 300))
"""(tree depth, trees) of the gradient boosting tried by cross-validation (with the name
similarity features, 300 trees of depth 2 under-fitted: 66.5% against 67.7% with 600)."""
BOOSTING = {"learning_rate": 0.05, "subsample": 0.8}
"""The gradient boosting's fixed settings."""
FOLDS = 5
REPURPOSING = "repurposing"
KNOWN = "known"


# --- leakage ---------------------------------------------------------------------------------


def refuse_leakage(tasks: Sequence[Task], forbidden: Sequence[Path], linker: Linker) -> None:
    """Refuse tasks whose disease (or a DOID/MeSH equivalent) is in a forbidden disease list.

    Raises:
        InvalidInputError: naming up to 5 leaked diseases; the ranker must never see a
            disease of the split it is evaluated on.
    """
    ids: set[str] = set()
    for path in forbidden:
        for concept in read_diseases(path, linker):
            ids |= {concept.canonical, *concept.equivalents}
    leaked = sorted(
        {
            t.disease
            for t in tasks
            if t.disease in ids
            or not disease_concept(linker, t.disease).equivalents.isdisjoint(ids)
        }
    )
    if leaked:
        shown = ", ".join(leaked[:5]) + (" …" if len(leaked) > 5 else "")
        raise InvalidInputError(
            f"{len(leaked)} task disease(s) are in a held-out disease list "
            f"({', '.join(map(str, forbidden))}): {shown}. The ranker is trained on the train "
            "split only."
        )


# --- rows ------------------------------------------------------------------------------------


@dataclass
class Rows:
    """Candidate rows grouped by task copy.

    Attributes:
        features: (rows x features) base feature values (:data:`FEATURE_NAMES`).
        label: 1 for the task's true drug, else 0.
        group: the row's group (one copy of one task), 0-based and contiguous.
        diseases: per group, the task's disease (the cross-validation unit).
        kinds: per group, :data:`REPURPOSING` or :data:`KNOWN`.
        task_ids: per group, the task id.
        drugs: per row, the candidate's DrugBank id.
    """

    features: np.ndarray
    label: np.ndarray
    group: np.ndarray
    diseases: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)
    drugs: list[str] = field(default_factory=list)

    @property
    def inputs(self) -> np.ndarray:
        """The model inputs: :func:`~kedrec_agent.ranking.model.expand` within each group."""
        out = np.zeros((len(self.features), 2 * self.features.shape[1]))
        for g in range(len(self.diseases)):
            index = self.group == g
            out[index] = expand(self.features[index])
        return out


def build_rows(
    tasks: Sequence[Task],
    evidence: Mapping[str, TaskEvidence],
    kg: KnowledgeGraph,
    tables: DrugTables | None,
    *,
    literature: Mapping[str, ConditionLiterature] | None = None,
    names: NameSimilarity | None = None,
    known: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Rows:
    """Feature rows of the tasks that have evidence (see the module docstring).

    Args:
        tasks: the tasks.
        evidence: each task's gathered evidence (:func:`training.ranker_data.
            cached_task_evidence`).
        kg: the unmasked graph (each task's view is masked as its evidence was).
        tables: drug classes, or ``None``.
        literature: per disease, its corpus-wide literature counts, or ``None``.
        names: the name similarity, or ``None`` (its features are 0).
        known: add the known-indication copy of each task whose positive has an edge.
        progress: called with the number of tasks done, now and then.
    """
    features: list[np.ndarray] = []
    labels: list[int] = []
    groups: list[int] = []
    rows = Rows(np.zeros((0, len(FEATURE_NAMES))), np.zeros(0), np.zeros(0, dtype=np.int64))

    def add(vectors: list[np.ndarray], ids: list[str], task: Task, kind: str) -> None:
        group = len(rows.diseases)
        features.extend(vectors)
        rows.drugs.extend(ids)
        labels.extend(int(i == task.positive) for i in ids)
        groups.extend([group] * len(vectors))
        rows.diseases.append(task.disease)
        rows.kinds.append(kind)
        rows.task_ids.append(task.task_id)

    for done, task in enumerate(tasks, start=1):
        found = evidence.get(task.task_id)
        if found is None or not found.candidates:
            continue
        ids = [c.drug.local_id for c in found.candidates]
        if task.positive not in ids:
            continue
        view = masked_view(kg, task)
        corpus = (literature or {}).get(task.disease)
        vectors = [
            candidate_features(
                c,
                found.hits.get(c.drug.local_id, ()),
                view,
                tables=tables,
                literature=corpus,
                names=names,
            )
            for c in found.candidates
        ]
        add(vectors, ids, task, REPURPOSING)
        if known and found.known is not None and found.known.edges:
            gold = ids.index(task.positive)
            seen = candidate_features(
                found.known,
                found.hits.get(task.positive, ()),
                known_view(kg, task),
                tables=tables,
                literature=corpus,
                names=names,
            )
            add([*vectors[:gold], seen, *vectors[gold + 1 :]], ids, task, KNOWN)
        if progress is not None and done % 50 == 0:
            progress(done)
    rows.features = np.vstack(features) if features else rows.features
    rows.label = np.array(labels, dtype=np.int64)
    rows.group = np.array(groups, dtype=np.int64)
    return rows


# --- models ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """A model family and its setting."""

    family: str  # "logistic" or "boosting"
    c: float = 1.0
    depth: int = 2
    trees: int = 300

    @property
    def name(self) -> str:
        """``logistic(C=0.1)`` or ``boosting(depth=2, trees=300)``."""
        if self.family == "logistic":
            return f"logistic(C={self.c:g})"
        return f"boosting(depth={self.depth}, trees={self.trees})"


CONFIGS = (
    *(Config("logistic", c=c) for c in C_GRID),
    *(Config("boosting", depth=d, trees=n) for d, n in BOOSTING_GRID),
)
"""Every configuration cross-validation chooses from."""


def _fit(config: Config, inputs: np.ndarray, labels: np.ndarray, seed: int) -> Any:
    """A fitted scikit-learn model (imported here: scikit-learn is a training extra)."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if config.family == "logistic":
        model = make_pipeline(StandardScaler(), LogisticRegression(C=config.c, max_iter=5000))
    else:
        model = GradientBoostingClassifier(
            max_depth=config.depth, n_estimators=config.trees, random_state=seed, **BOOSTING
        )
    return model.fit(inputs, labels)


def importance(config: Config, model: Any) -> dict[str, float]:
    """Per model input, how much the model uses it.

    The weight per standard deviation (logistic regression), or the input's share of the
    trees' impurity decrease (boosting).
    """
    values = model[-1].coef_[0] if config.family == "logistic" else model.feature_importances_
    return {name: round(float(v), 6) for name, v in zip(expanded_names(), values, strict=True)}


def export_model(config: Config, model: Any, inputs: np.ndarray) -> dict[str, Any]:
    """The artifact's ``model`` object of a fitted model (numpy-servable, no pickle).

    A boosted model's initial log-odds are read back from its own decision function, and
    the exported trees are checked to give the same scores as scikit-learn on ``inputs``.
    """
    if config.family == "logistic":
        scaler, logistic = model[0], model[-1]
        return {
            "family": "logistic-regression",
            "C": config.c,
            "mean": [float(v) for v in scaler.mean_],
            "scale": [float(v) for v in scaler.scale_],
            "coef": [float(v) for v in logistic.coef_[0]],
            "intercept": float(logistic.intercept_[0]),
        }
    trees = []
    for estimator in model.estimators_[:, 0]:
        tree = estimator.tree_
        trees.append(
            {
                "feature": [int(v) for v in tree.feature],
                "threshold": [float(v) for v in tree.threshold],
                "left": [int(v) for v in tree.children_left],
                "right": [int(v) for v in tree.children_right],
                "value": [float(v) for v in tree.value[:, 0, 0]],
            }
        )
    rate = float(model.learning_rate)
    first = inputs[:1]
    summed = sum(float(e.predict(first)[0]) for e in model.estimators_[:, 0])
    init = float(model.decision_function(first)[0]) - rate * summed
    exported = {
        "family": "gradient-boosting",
        "max_depth": config.depth,
        "learning_rate": rate,
        "init": init,
        "trees": trees,
    }
    served = TreeScorer.from_dict(exported, inputs.shape[1])(inputs)
    if not np.allclose(served, model.decision_function(inputs), atol=1e-6):
        raise RuntimeError("the exported trees do not reproduce scikit-learn's scores")
    return exported


def _scores(model: Any, inputs: np.ndarray) -> np.ndarray:
    """Log-odds of the positive class."""
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(inputs), dtype=np.float64)
    prob = np.clip(model.predict_proba(inputs)[:, 1], 1e-9, 1 - 1e-9)
    return np.asarray(np.log(prob / (1 - prob)), dtype=np.float64)


def fold_of_disease(diseases: Sequence[str], folds: int, seed: int) -> dict[str, int]:
    """A seeded assignment of each disease to a cross-validation fold (round-robin)."""
    unique = sorted(set(diseases))
    random.Random(seed).shuffle(unique)
    return {d: i % folds for i, d in enumerate(unique)}


def out_of_fold_scores(
    rows: Rows, inputs: np.ndarray, config: Config, *, folds: int, seed: int
) -> np.ndarray:
    """Each row's score from a model fitted on the other folds (grouped by disease)."""
    fold = fold_of_disease(rows.diseases, folds, seed)
    row_fold = np.array([fold[rows.diseases[g]] for g in rows.group])
    scores = np.zeros(len(rows.label))
    for k in range(folds):
        test = row_fold == k
        model = _fit(config, inputs[~test], rows.label[~test], seed)
        scores[test] = _scores(model, inputs[test])
    return scores


def fit_temperature(scores: np.ndarray, rows: Rows, kinds: Sequence[str] | None = None) -> float:
    """The softmax temperature minimising the negative log-likelihood of the true drugs.

    Args:
        scores: one score per row.
        rows: the rows (their groups and labels).
        kinds: fit on these group kinds only (default: all).
    """
    from scipy.optimize import minimize_scalar

    chosen = [g for g in range(len(rows.kinds)) if kinds is None or rows.kinds[g] in kinds]
    parts = [(scores[rows.group == g], rows.label[rows.group == g]) for g in chosen]

    def nll(log_t: float) -> float:
        t = math.exp(log_t)
        total = 0.0
        for s, y in parts:
            z = s / t
            total -= float(z[y == 1].sum() - (z.max() + np.log(np.exp(z - z.max()).sum())))
        return total / max(len(parts), 1)

    found = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
    return float(math.exp(found.x))


def ece(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error over equal-width bins (the harness's definition)."""
    grouped: dict[int, list[tuple[float, bool]]] = {}
    for conf, ok in zip(confidences, correct, strict=True):
        grouped.setdefault(min(int(conf * bins), bins - 1), []).append((conf, ok))
    n = max(len(confidences), 1)
    return sum(
        len(items)
        / n
        * abs(sum(ok for _, ok in items) / len(items) - sum(c for c, _ in items) / len(items))
        for items in grouped.values()
    )


def selection_figures(
    scores: np.ndarray, rows: Rows, temperature: float, kind: str | None = None
) -> dict[str, float]:
    """Top-1 accuracy, mean log-likelihood of the true drug and ECE (5 and 10 bins)."""
    confidences, correct, loglik = [], [], []
    for g in range(len(rows.kinds)):
        if kind is not None and rows.kinds[g] != kind:
            continue
        index = rows.group == g
        prob = softmax(scores[index], temperature)
        labels = rows.label[index]
        top = int(np.argmax(prob))
        confidences.append(float(prob[top]))
        correct.append(bool(labels[top]))
        loglik.append(float(np.log(max(prob[labels == 1].sum(), 1e-12))))
    if not correct:
        return {"tasks": 0}
    return {
        "tasks": float(len(correct)),
        "accuracy": float(np.mean(correct)),
        "nll": -float(np.mean(loglik)),
        "ece5": ece(confidences, correct, bins=5),
        "ece10": ece(confidences, correct, bins=10),
        "mean_confidence": float(np.mean(confidences)),
    }


@dataclass
class TrainResult:
    """What :func:`train_ranker` produced."""

    artifact: dict[str, Any]
    cv: dict[str, dict[str, Any]]
    chosen: str
    best_linear: str
    seconds: float


def train_ranker(
    rows: Rows,
    *,
    seed: int = 0,
    folds: int = FOLDS,
    configs: Sequence[Config] = CONFIGS,
    metadata: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Choose a configuration by grouped cross-validation, refit, calibrate, export.

    The configuration (:data:`CONFIGS`: logistic regressions and gradient boosting) with
    the best cross-validated top-1 accuracy on the repurposing groups (ties: lower
    log-loss) is chosen, refitted on all rows and exported; the best logistic regression is
    reported beside it. The temperature is fitted on the chosen model's out-of-fold scores.

    Args:
        rows: training rows (:func:`build_rows`), train split only.
        seed: seeds the folds and the models.
        folds: cross-validation folds (grouped by disease).
        configs: the configurations to choose from.
        metadata: recorded in the artifact (data version, task file hash, command).
    """
    started = time.perf_counter()
    if not len(rows.label) or rows.label.sum() == 0:
        raise InvalidInputError("No training row with a true drug: nothing to learn from.")
    inputs = rows.inputs
    cv: dict[str, dict[str, Any]] = {}
    for config in configs:
        scores = out_of_fold_scores(rows, inputs, config, folds=folds, seed=seed)
        temperature = fit_temperature(scores, rows)
        cv[config.name] = {
            "temperature": temperature,
            REPURPOSING: selection_figures(scores, rows, temperature, REPURPOSING),
            KNOWN: selection_figures(scores, rows, temperature, KNOWN),
        }
        log.info("%s: CV accuracy %.3f", config.name, cv[config.name][REPURPOSING]["accuracy"])

    def key(name: str) -> tuple[float, float]:
        figures = cv[name][REPURPOSING]
        return (-round(figures["accuracy"], 4), figures["nll"])

    chosen = min(configs, key=lambda c: key(c.name))
    linear = [c.name for c in configs if c.family == "logistic"]
    best_linear = min(linear, key=key) if linear else "none"
    model = _fit(chosen, inputs, rows.label, seed)
    temperature = cv[chosen.name]["temperature"]
    train_scores = _scores(model, inputs)
    fitted = {
        REPURPOSING: selection_figures(train_scores, rows, temperature, REPURPOSING),
        KNOWN: selection_figures(train_scores, rows, temperature, KNOWN),
    }
    n_known = sum(k == KNOWN for k in rows.kinds)
    artifact = {
        "schema": ARTIFACT_SCHEMA,
        "features_version": FEATURES_VERSION,
        "features": list(FEATURE_NAMES),
        "inputs": expanded_names(),
        "model": export_model(chosen, model, inputs),
        "calibration": {
            "method": "softmax temperature over each task's candidates, fitted on "
            "out-of-fold train scores",
            "temperature": round(temperature, 6),
        },
        "metadata": {
            **dict(metadata or {}),
            "seed": seed,
            "folds": folds,
            "train_tasks": len(rows.kinds) - n_known,
            "train_known_copies": n_known,
            "train_rows": len(rows.label),
            "train_diseases": len(set(rows.diseases)),
            "chosen": chosen.name,
            "best_linear": best_linear,
            "importance": importance(chosen, model),
            "cv": cv,
            "fitted": fitted,
        },
    }
    Ranker.from_dict(artifact)  # the artifact must load as it will be served
    return TrainResult(artifact, cv, chosen.name, best_linear, time.perf_counter() - started)


TREES_PLACEHOLDER = "__trees__"


def write_artifact(result: TrainResult, path: Path) -> Path:
    """Write the artifact as JSON, keys sorted; a boosted model's trees on one line."""
    artifact = dict(result.artifact)
    trees = artifact["model"].get("trees")
    if trees is not None:
        artifact["model"] = {**artifact["model"], "trees": TREES_PLACEHOLDER}
    text = json.dumps(artifact, indent=1, sort_keys=True)
    if trees is not None:
        compact = json.dumps(trees, separators=(",", ":"))
        text = text.replace(json.dumps(TREES_PLACEHOLDER), compact, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return path


def run(
    tasks: Sequence[Task],
    output: Path,
    *,
    forbidden: Sequence[Path],
    settings: Settings | None = None,
    seed: int = 0,
    folds: int = FOLDS,
    workers: int = 2,
    literature: bool = True,
    progress: bool = True,
    command: str = "kedrec train ranker",
    tasks_file: Path | None = None,
) -> TrainResult:
    """The whole of ``kedrec train ranker``: refuse leakage, gather, train, write.

    Args:
        tasks: train-split tasks (``kedrec train tasks --split train``).
        output: the artifact's path; the card is written beside it (``RANKER_CARD.md``).
        forbidden: disease lists the tasks must not touch (the dev split).
        settings: default :func:`~kedrec_agent.config.get_settings`.
        seed: seeds the folds and the models.
        folds: cross-validation folds.
        workers: tasks whose evidence is gathered at once.
        literature: gather literature evidence (off: its features are 0).
        progress: show progress bars.
        command: recorded in the artifact and the card.
        tasks_file: the tasks' file, recorded with its hash.

    Raises:
        InvalidInputError: a task's disease is in a forbidden list, or nothing to learn.
    """
    from training.ranker_report import write_card

    begun = time.perf_counter()
    settings = settings or get_settings()
    refuse_leakage(tasks, forbidden, get_linker(settings))
    kg = KnowledgeGraph.from_settings(settings)
    search = LiteratureSearch.from_settings(settings) if literature else None
    data = data_version(settings)
    cache = EvidenceCache(
        EvidenceSources(kg, search), training_dir(settings) / "ranker", known=True, data=data
    )
    evidence = cache.gather(tasks, workers=workers, progress=progress)
    started = time.perf_counter()
    corpus = {}
    if search is not None:
        corpus = {
            d: condition_literature(search, kg, d) for d in sorted({t.disease for t in tasks})
        }
    tables = DrugTables.from_settings(settings)
    names = optional_similarity(settings)
    rows = build_rows(tasks, evidence, kg, tables, literature=corpus, names=names)
    log.info("ranker rows: %d candidates in %.0f s", len(rows.label), time.perf_counter() - started)
    metadata = {
        "command": command,
        "data_version": data,
        "tasks_file": str(tasks_file) if tasks_file else None,
        "tasks_sha256": file_hash(tasks_file)[:16] if tasks_file else None,
        "literature": literature,
        "trained_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "kedrec_agent": __version__,
        "evidence": EVIDENCE_VERSION,
    }
    result = train_ranker(rows, seed=seed, folds=folds, metadata=metadata)
    result.artifact["metadata"]["seconds"] = round(result.seconds, 1)
    result.artifact["metadata"]["total_seconds"] = round(time.perf_counter() - begun, 1)
    write_artifact(result, output)
    write_card(result.artifact, output.with_name("RANKER_CARD.md"), command=command)
    return result
