"""The learned ranker: a calibrated model over :mod:`kedrec_agent.ranking.features`.

The model ships as a small JSON artifact (``kedrec_agent/ranking/ranker.json``, written by
``kedrec train ranker``) and is served with numpy alone: no pickle, no scikit-learn.

For the candidates of one condition, each candidate's feature vector
(:func:`~kedrec_agent.ranking.features.candidate_features`) is extended with its
difference from the best value among the candidates (:func:`expand`: a candidate is judged
against the others) and scored (log-odds) by the artifact's model: a logistic regression
on standardised inputs (:class:`LinearScorer`) or gradient-boosted regression trees
(:class:`TreeScorer`), whichever cross-validation on the train split chose. The
probabilities are a softmax of the scores over the condition's candidates with a
temperature fitted on out-of-fold training scores, so each is the calibrated probability
that the candidate is the right choice among them (they sum to 1).

Example:
    >>> ranker = load_ranker()  # doctest: +SKIP
    >>> context = {c: condition_literature(search, kg, c) for c in conditions}  # doctest: +SKIP
    >>> ranker.rank(evidence.candidates, hits_by_drug, kg, literature=context)  # doctest: +SKIP
    {'DB00338': 0.71, 'DB00448': 0.12, ...}
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kedrec_agent.config import get_settings
from kedrec_agent.errors import ConfigError
from kedrec_agent.kg.evidence import CandidateDrug
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.literature.search import Hit
from kedrec_agent.ranking.features import FEATURE_NAMES, FEATURES_VERSION, candidate_features
from kedrec_agent.ranking.literature import ConditionLiterature
from kedrec_agent.ranking.semantic import NameSimilarity, optional_similarity
from kedrec_agent.ranking.tables import DrugTables

ARTIFACT_SCHEMA = "kedrec.ranker/1"
PACKAGED_RANKER = Path(__file__).resolve().parent / "ranker.json"
"""The shipped artifact (``kedrec train ranker --install`` writes it)."""


def expanded_names(names: Sequence[str] = FEATURE_NAMES) -> list[str]:
    """The model's inputs: each feature, then each feature's gap to the best candidate."""
    return [*names, *(f"{name}_vs_best" for name in names)]


def expand(features: np.ndarray) -> np.ndarray:
    """The model's inputs for one condition's candidates (rows): ``[x, x - max(x)]``.

    Args:
        features: a (candidates x features) matrix of one condition's candidates.
    """
    matrix = np.asarray(features, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a (candidates x features) matrix, got shape {matrix.shape}")
    if not len(matrix):
        return np.zeros((0, 2 * matrix.shape[1]))
    return np.hstack([matrix, matrix - matrix.max(axis=0, keepdims=True)])


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax of ``scores / temperature`` (numerically stable; empty in, empty out)."""
    values = np.asarray(scores, dtype=np.float64) / temperature
    if not values.size:
        return values
    values = np.exp(values - values.max())
    result: np.ndarray = values / values.sum()
    return result


def _array(model: Mapping[str, Any], key: str, size: int | None = None) -> np.ndarray:
    values = np.asarray(model.get(key, ()), dtype=np.float64)
    if values.ndim != 1 or (size is not None and values.size != size):
        expected = f"{size} expected" if size is not None else "a list expected"
        raise ConfigError(f"The ranker artifact's {key} has {values.size} values; {expected}.")
    return values


@dataclass(frozen=True)
class LinearScorer:
    """Standardised inputs times weights, plus a bias (a logistic regression's log-odds)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_dict(cls, model: Mapping[str, Any], inputs: int) -> LinearScorer:
        """Read ``mean``, ``scale``, ``coef`` and ``intercept`` (``ConfigError`` if malformed)."""
        scale = _array(model, "scale", inputs)
        return cls(
            mean=_array(model, "mean", inputs),
            scale=np.where(scale > 0, scale, 1.0),
            coef=_array(model, "coef", inputs),
            intercept=float(model.get("intercept", 0.0)),
        )

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """Log-odds of each row."""
        result: np.ndarray = ((inputs - self.mean) / self.scale) @ self.coef + self.intercept
        return result


@dataclass(frozen=True)
class Tree:
    """One regression tree: ``x[feature] <= threshold`` goes left; a leaf has ``left == -1``."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    @classmethod
    def from_dict(cls, tree: Mapping[str, Any], inputs: int) -> Tree:
        """Read a tree's node arrays, checking their sizes and links (``ConfigError``)."""
        nodes = len(tree.get("value", ()))
        arrays = {key: _array(tree, key, nodes) for key in ("threshold", "value")}
        links = {key: _array(tree, key, nodes).astype(np.int64) for key in ("feature", "left",
                                                                            "right")}  # fmt: skip
        internal = links["left"] >= 0
        if (
            nodes == 0
            or (links["feature"][internal] >= inputs).any()
            or ((links["left"] >= nodes) | (links["right"] >= nodes)).any()
        ):
            raise ConfigError("The ranker artifact holds a malformed tree.")
        return cls(links["feature"], arrays["threshold"], links["left"], links["right"],
                   arrays["value"])  # fmt: skip

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """The leaf value each row falls in (inputs compared as float32, as scikit-learn)."""
        x = inputs.astype(np.float32).astype(np.float64)
        node = np.zeros(len(x), dtype=np.int64)
        rows = np.arange(len(x))
        while True:
            inner = self.left[node] >= 0
            if not inner.any():
                result: np.ndarray = self.value[node]
                return result
            at = node[inner]
            go_left = x[rows[inner], self.feature[at]] <= self.threshold[at]
            node[inner] = np.where(go_left, self.left[at], self.right[at])


@dataclass(frozen=True)
class TreeScorer:
    """Gradient-boosted regression trees: ``init + rate * sum(tree(x))`` (log-odds)."""

    init: float
    rate: float
    trees: tuple[Tree, ...]

    @classmethod
    def from_dict(cls, model: Mapping[str, Any], inputs: int) -> TreeScorer:
        """Read ``init``, ``learning_rate`` and ``trees`` (``ConfigError`` if malformed)."""
        trees = model.get("trees")
        if not isinstance(trees, list) or not trees:
            raise ConfigError("The ranker artifact's trees are missing.")
        return cls(
            init=float(model.get("init", 0.0)),
            rate=float(model.get("learning_rate", 0.1)),
            trees=tuple(Tree.from_dict(t, inputs) for t in trees),
        )

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """Log-odds of each row."""
        total = np.zeros(len(inputs))
        for tree in self.trees:
            total += tree(inputs)
        result: np.ndarray = self.init + self.rate * total
        return result


SCORERS: dict[str, type[LinearScorer] | type[TreeScorer]] = {
    "logistic-regression": LinearScorer,
    "gradient-boosting": TreeScorer,
}
"""The model families an artifact may hold."""


@dataclass(frozen=True)
class Ranker:
    """A scorer over the expanded features and a softmax temperature (see the module).

    Attributes:
        features: the feature names the artifact was trained on (must be the code's).
        scorer: log-odds of each candidate from its model inputs (:func:`expand`).
        temperature: the softmax temperature.
        metadata: how the artifact was made (data, split, seed, figures).
    """

    features: tuple[str, ...]
    scorer: LinearScorer | TreeScorer
    temperature: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ranker:
        """Build from the artifact's JSON object, checking it against the code.

        Raises:
            ConfigError: not a ranker artifact, a feature list that differs from
                :data:`~kedrec_agent.ranking.features.FEATURE_NAMES`, an unknown model
                family, or arrays of the wrong size.
        """
        if data.get("schema") != ARTIFACT_SCHEMA:
            raise ConfigError(
                f"Not a ranker artifact (schema {data.get('schema')!r}, "
                f"expected {ARTIFACT_SCHEMA!r})."
            )
        features = tuple(data.get("features") or ())
        if features != FEATURE_NAMES:
            missing = [f for f in FEATURE_NAMES if f not in features]
            extra = [f for f in features if f not in FEATURE_NAMES]
            raise ConfigError(
                "The ranker artifact was trained on other features than the code computes "
                f"(artifact {data.get('features_version')!r}, code {FEATURES_VERSION!r}; "
                f"missing {missing or 'none'}, unknown {extra or 'none'}"
                f"{'' if missing or extra else ', order differs'}): retrain it with "
                "`kedrec train ranker`."
            )
        model = data.get("model") or {}
        family = model.get("family", "logistic-regression")
        if family not in SCORERS:
            raise ConfigError(f"Unknown ranker model family {family!r} ({', '.join(SCORERS)}).")
        scorer = SCORERS[family].from_dict(model, len(expanded_names(features)))
        temperature = float((data.get("calibration") or {}).get("temperature", 1.0))
        if not temperature > 0:
            raise ConfigError(f"The ranker's temperature must be positive, got {temperature}.")
        return cls(features, scorer, temperature, dict(data.get("metadata") or {}))

    @classmethod
    def load(cls, path: Path | None = None) -> Ranker:
        """Read an artifact (default: the shipped one).

        Raises:
            ConfigError: the file is missing, not JSON, or does not match the code.
        """
        path = path or PACKAGED_RANKER
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"No ranker artifact at {path}: train one with `kedrec train ranker`."
            ) from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"The ranker artifact {path} is unreadable: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"The ranker artifact {path} is not a JSON object.")
        return cls.from_dict(data)

    def scores(self, features: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
        """Raw scores (log-odds) of one condition's candidates (rows of features)."""
        matrix = np.asarray(features, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.features):
            raise ValueError(
                f"expected a (candidates x {len(self.features)}) feature matrix, "
                f"got shape {matrix.shape}"
            )
        return self.scorer(expand(matrix))

    def probabilities(self, features: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
        """Each candidate's calibrated probability of being the right choice among them.

        Args:
            features: one row per candidate of *one* condition
                (:func:`~kedrec_agent.ranking.features.candidate_features`), in any order.

        Returns:
            Probabilities in the rows' order, summing to 1 (empty for no candidate).
        """
        return softmax(self.scores(features), self.temperature)

    def rank(
        self,
        candidates: Sequence[CandidateDrug],
        hits: Mapping[str, Sequence[Hit]] | None = None,
        kg: KnowledgeGraph | None = None,
        *,
        tables: DrugTables | None = None,
        literature: Mapping[str, ConditionLiterature] | None = None,
        names: NameSimilarity | None = None,
    ) -> dict[str, float]:
        """Probabilities of the candidates, each condition's candidates scored together.

        Args:
            candidates: candidates of one or more conditions (``CandidateDrug.condition``).
            hits: literature passages per candidate DrugBank id.
            kg: the graph view the candidates were gathered from.
            tables: drug classes; default :meth:`DrugTables.from_settings`.
            literature: per condition id, its corpus-wide counts
                (:func:`~kedrec_agent.ranking.literature.condition_literature`).
            names: the name similarity; default :func:`~kedrec_agent.ranking.semantic.
                optional_similarity` (the literature's embedding model, when installed).

        Returns:
            ``{DrugBank id: probability}``; a drug proposed for two conditions keeps its
            higher probability.
        """
        hits = hits or {}
        literature = literature or {}
        tables = tables if tables is not None else DrugTables.from_settings()
        names = names if names is not None else optional_similarity(get_settings())
        groups: dict[str, list[CandidateDrug]] = {}
        for cand in candidates:
            groups.setdefault(cand.condition, []).append(cand)
        result: dict[str, float] = {}
        for condition, group in groups.items():
            rows = [
                candidate_features(
                    c,
                    hits.get(c.drug.local_id, ()),
                    kg,
                    tables=tables,
                    literature=literature.get(condition),
                    names=names,
                )
                for c in group
            ]
            for cand, prob in zip(group, self.probabilities(np.vstack(rows)), strict=True):
                drug = cand.drug.local_id
                result[drug] = max(result.get(drug, 0.0), float(prob))
        return result


_DEFAULT: dict[Path, Ranker] = {}
_LOCK = threading.Lock()


def load_ranker(path: Path | None = None) -> Ranker:
    """The ranker of ``path`` (default: the shipped artifact), read once per process."""
    path = (path or PACKAGED_RANKER).resolve()
    with _LOCK:
        if path not in _DEFAULT:
            _DEFAULT[path] = Ranker.load(path)
        return _DEFAULT[path]
