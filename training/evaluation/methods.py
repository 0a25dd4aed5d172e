"""The methods the harness compares, each answering a selection task from the same evidence.

Every method sees the task's *visible* reasoning task
(:func:`training.tasks.visible.visible_task`: the gold drug-disease edges masked) and
returns a :class:`Prediction`:

* ``random``: a uniformly random candidate (seeded per task);
* ``popularity``: the candidate with the most known indications in the training files
  (PharmacotherapyDB DM/SYM and DrugMechDB pairs of the train split);
* ``kg-path``: the agent's deterministic evidence ranking
  (:func:`kedrec_agent.reasoning.output.fallback`: a candidate's strongest evidence item,
  then the number of items), what the agent shows when the model's answer is unusable;
* ``kg-embedding``: cosine between the candidate's vector in the drug embedding of
  :mod:`training.tasks.kg_embedding` (truncated SVD of the drug x gene/drug incidence matrix with
  every drug-disease edge removed) and the centroid of the drugs that act on the disease's
  genes in the masked graph. Not a trained link predictor (PyKEEN on 2 cores is too slow):
  a spectral embedding with a disease profile folded in from its genes;
* ``model`` (base zero-shot, the distilled adapter) and its ablations: the reasoning model
  answering as the reasoning node does, optionally without the KG or the literature items;
* ``ranker``: the learned, calibrated ranker (:mod:`kedrec_agent.ranking`) over the same
  evidence in its structured form (:mod:`training.ranker_data`, same masking), each
  candidate's probability of being the right choice as its confidence.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from kedrec_agent.errors import KedrecError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.reasoning.backends import Backend
from kedrec_agent.reasoning.output import fallback
from kedrec_agent.reasoning.ranking import evidence_weights
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import ReasoningModel
from kedrec_agent.reasoning.schema import ReasoningTask
from training.ranker_data import EvidenceCache, masked_view, reasoning_view, same_evidence
from training.tasks.inputs import read_indications, read_rationales
from training.tasks.kg_embedding import DrugEmbedding
from training.tasks.schema import Task

if TYPE_CHECKING:
    from kedrec_agent.ranking.literature import ConditionLiterature
    from kedrec_agent.ranking.model import Ranker
    from kedrec_agent.ranking.semantic import NameSimilarity
    from kedrec_agent.ranking.tables import DrugTables

EvidenceKind = Literal["kg", "literature"]


@dataclass
class Prediction:
    """One method's answer to one task.

    Attributes:
        chosen: the chosen DrugBank id; ``None`` when the method abstained.
        scores: a score per candidate (higher is better), where the method has one.
        rationale: the text shown with the choice, where the method writes one.
        cited: evidence ids cited that the tools returned (0 for an ungrounded choice).
        hallucinated: ids the model wrote that were neither a candidate nor returned
            evidence (removed before the answer is shown).
        fallback: the model's answer was unusable and the evidence ranking replaced it.
        grounded: the choice cites returned evidence (``None``: not a model answer).
        templated: the model's rationale failed the gate and a templated summary replaced it.
        confidence: the stated confidence, where there is one.
        seconds: time to answer (the evidence gathering excluded; it is shared).
    """

    chosen: str | None
    scores: dict[str, float] = field(default_factory=dict)
    rationale: str | None = None
    cited: int = 0
    hallucinated: int = 0
    fallback: bool = False
    grounded: bool | None = None
    templated: bool = False
    confidence: float | None = None
    seconds: float = 0.0


class Method(Protocol):
    """A way of answering a selection task."""

    name: str
    uses_model: bool

    def predict(self, task: Task, visible: ReasoningTask) -> Prediction:
        """Answer ``task`` from its visible evidence."""
        ...


def _best(scores: dict[str, float], order: list[str]) -> str | None:
    """The highest-scoring candidate (ties: the earlier in ``order``)."""
    if not scores:
        return None
    return max(order, key=lambda d: (scores.get(d, -np.inf), -order.index(d)))


@dataclass
class RandomMethod:
    """A uniformly random candidate, seeded by the seed and the task id."""

    seed: int = 0
    name: str = "random"
    uses_model: bool = False

    def predict(self, task: Task, visible: ReasoningTask) -> Prediction:
        """See the class docstring."""
        rng = random.Random(f"{self.seed}|{task.task_id}")
        ids = visible.candidate_ids()
        scores = {d: rng.random() for d in ids}
        return Prediction(chosen=_best(scores, ids), scores=scores)


def popularity_counts(indications: Iterable[Path], rationales: Iterable[Path]) -> Counter[str]:
    """Known indications per drug: distinct (drug, disease) DM/SYM and DrugMechDB pairs."""
    pairs = {(r.drug, r.disease) for path in rationales for r in read_rationales(path)}
    pairs |= {
        (i.drug, i.disease)
        for path in indications
        for i in read_indications(path)
        if i.category != "NOT"
    }
    return Counter(drug for drug, _ in pairs)


@dataclass
class PopularityMethod:
    """The candidate with the most known indications in the training files."""

    counts: Counter[str]
    name: str = "popularity"
    uses_model: bool = False

    def predict(self, task: Task, visible: ReasoningTask) -> Prediction:
        """See the class docstring."""
        ids = visible.candidate_ids()
        scores = {d: float(self.counts.get(d, 0)) for d in ids}
        return Prediction(chosen=_best(scores, ids), scores=scores)


@dataclass
class KGPathMethod:
    """The agent's deterministic evidence ranking (abstains when no candidate has evidence)."""

    name: str = "kg-path"
    uses_model: bool = False

    def predict(self, task: Task, visible: ReasoningTask) -> Prediction:
        """See the class docstring."""
        rec = fallback(visible.model_copy(update={"max_choices": 1}), "baseline")
        first = rec.choices[0] if rec.choices else None
        return Prediction(
            chosen=first.drug_id if first else None,
            scores=evidence_weights(visible),
            rationale=first.rationale if first else None,
            cited=len(first.evidence_ids) if first else 0,
            confidence=rec.confidence,
        )


@dataclass
class EmbeddingMethod:
    """Cosine of the candidate to the centroid of the drugs acting on the disease's genes."""

    embedding: DrugEmbedding
    kg: KnowledgeGraph
    neighbours: int = 50
    name: str = "kg-embedding"
    uses_model: bool = False
    _profiles: dict[str, np.ndarray | None] = field(default_factory=dict, repr=False)
    _rows: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._rows = {drug: i for i, drug in enumerate(self.embedding.ids)}

    def profile(self, task: Task) -> np.ndarray | None:
        """The disease's vector in the masked graph (``None``: no embedded gene neighbour)."""
        if task.disease not in self._profiles:
            masked = self.kg.with_exclusions(task.exclusions)
            try:
                rows = masked.drugs_targeting_disease_genes(task.disease, limit=self.neighbours)
            except KedrecError:
                rows = []
            rows = [r for r in rows if r.drug.local_id in self._rows]
            vector = None
            if rows:
                index = [self._rows[r.drug.local_id] for r in rows]
                weights = np.array([r.shared_genes for r in rows], dtype=np.float32)
                centroid = weights @ self.embedding.vectors[index]
                norm = float(np.linalg.norm(centroid))
                vector = centroid / norm if norm > 0 else None
            self._profiles[task.disease] = vector
        return self._profiles[task.disease]

    def predict(self, task: Task, visible: ReasoningTask) -> Prediction:
        """See the class docstring; abstains when the disease has no profile."""
        ids = visible.candidate_ids()
        vector = self.profile(task)
        if vector is None:
            return Prediction(chosen=None)
        scores = {}
        for drug in ids:
            row = self._rows.get(drug)
            scores[drug] = -1.0 if row is None else float(self.embedding.vectors[row] @ vector)
        return Prediction(chosen=_best(scores, ids), scores=scores)


@dataclass
class RankerMethod:
    """The learned ranker over the task's structured evidence (same masking, same tools).

    Each candidate's features (:func:`kedrec_agent.ranking.features.candidate_features`,
    the serving function) are computed from the evidence :class:`~training.ranker_data.
    EvidenceCache` gathers for the task with the task's exclusions; the ranker's calibrated
    probability of the chosen candidate is the confidence. Tasks whose structured evidence
    does not rebuild the cached reasoning task exactly are counted in :attr:`mismatched`.

    Args:
        ranker: the ranker (the shipped artifact by default in the harness).
        evidence: the tasks' structured evidence, gathered once and cached.
        kg: the unmasked graph (each task masks its own view).
        tables: drug classes (``None``: class features are 0).
        names: the name similarity (``None``: its features are 0).
    """

    ranker: Ranker
    evidence: EvidenceCache
    kg: KnowledgeGraph
    tables: DrugTables | None = None
    names: NameSimilarity | None = None
    name: str = "ranker"
    uses_model: bool = False
    mismatched: list[str] = field(default_factory=list)
    _literature: dict[str, ConditionLiterature | None] = field(default_factory=dict, repr=False)

    def literature(self, disease: str) -> ConditionLiterature | None:
        """The disease's corpus-wide literature counts, once per disease (``None``: none)."""
        from kedrec_agent.ranking.literature import condition_literature

        search = self.evidence.sources.literature
        if disease not in self._literature:
            self._literature[disease] = (
                condition_literature(search, self.kg, disease) if search is not None else None
            )
        return self._literature[disease]

    def predict(self, task: Task, visible: ReasoningTask) -> Prediction:
        """See the class docstring; abstains when the task's evidence cannot be gathered."""
        from kedrec_agent.ranking.features import candidate_features

        found = self.evidence.get(task)
        if found is None or not found.candidates:
            return Prediction(chosen=None)
        if not same_evidence(reasoning_view(task, found, self.kg), visible):
            self.mismatched.append(task.task_id)
        started = time.perf_counter()
        view = masked_view(self.kg, task)
        corpus = self.literature(task.disease)
        rows = [
            candidate_features(
                c,
                found.hits.get(c.drug.local_id, ()),
                view,
                tables=self.tables,
                literature=corpus,
                names=self.names,
            )
            for c in found.candidates
        ]
        probabilities = self.ranker.probabilities(np.vstack(rows))
        scores = {
            c.drug.local_id: float(p) for c, p in zip(found.candidates, probabilities, strict=True)
        }
        chosen = _best(scores, visible.candidate_ids())
        return Prediction(
            chosen=chosen,
            scores=scores,
            confidence=scores.get(chosen) if chosen else None,
            seconds=time.perf_counter() - started,
        )


def without(visible: ReasoningTask, kind: EvidenceKind | None) -> ReasoningTask:
    """``visible`` with the evidence items of ``kind`` removed (``None``: unchanged)."""
    if kind is None:
        return visible
    return visible.model_copy(update={"evidence": [e for e in visible.evidence if e.kind != kind]})


@dataclass
class ModelMethod:
    """The reasoning model answering as the reasoning node does, optionally ablated.

    Args:
        name: the method's name in the report.
        model: the loaded model (base, or with the distilled adapter), or another reasoning
            backend (an OpenAI-compatible server).
        drop: leave out the ``kg`` or the ``literature`` evidence (the ablations).
        constrained: hold the local model's decoding to the answer schema (as the agent).
    """

    name: str
    model: ReasoningModel | Backend
    drop: EvidenceKind | None = None
    uses_model: bool = True
    constrained: bool = True

    def predict(self, task: Task, visible: ReasoningTask) -> Prediction:
        """See the class docstring."""
        started = time.perf_counter()
        reasoner = Reasoner(self.model, constrained=self.constrained)
        rec = reasoner.recommend(without(visible, self.drop))
        seconds = time.perf_counter() - started
        first = rec.choices[0] if rec.choices else None
        model_cited = first is not None and first.grounded and not rec.fallback
        return Prediction(
            chosen=first.drug_id if first else None,
            rationale=first.rationale if first else None,
            cited=len(first.evidence_ids) if first and model_cited else 0,
            hallucinated=rec.removed_ids,
            fallback=rec.fallback,
            grounded=bool(first and first.grounded and not rec.fallback),
            templated=bool(first and first.templated),
            confidence=rec.confidence,
            seconds=seconds,
        )
