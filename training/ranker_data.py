"""The evidence the ranker learns from and is evaluated on, as the agent's tools return it.

For a task, the knowledge graph is masked with the task's exclusions (every known
indication edge of the disease and its DOID/MeSH equivalents, the gold included: the
protocol's masking), and the candidates' evidence is gathered exactly as
:func:`training.tasks.visible.visible_task` gathers it (and so as the evaluation harness's
cached reasoning tasks were built): :func:`~kedrec_agent.kg.evidence.evidence_for_candidates`
and :func:`~kedrec_agent.literature.search.hits_for_candidates` with the same settings.
What is kept is the structured evidence (:class:`~kedrec_agent.kg.evidence.CandidateDrug`
and :class:`~kedrec_agent.literature.search.Hit`), which the ranker's features are computed
from, rather than the numbered text items of the prompt; each candidate's ``mentions`` (the
literature's documents naming it with the disease) is filled as the agent's ``kg_evidence``
node fills it.

With ``known=True`` the positive is also gathered a second time with its own indication
edges visible (every other exclusion kept): the known-indication copy of the task that
training adds beside the repurposing one.

Gathering is slow on 2 cores (the literature search, ~1-2 s a task), so it is cached as
JSONL, one task a line, keyed by the tasks and the evidence settings; an interrupted run
resumes.

Example:
    >>> cache = EvidenceCache(EvidenceSources(kg, literature), Path(".kedrec/eval/cache"))
    ... # doctest: +SKIP
    >>> found = cache.gather(tasks)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field
from tqdm import tqdm

from kedrec_agent import __version__
from kedrec_agent.agent.evidence import EVIDENCE_VERSION, pair_passages, reasoning_task
from kedrec_agent.errors import KedrecError, UnknownEntityError
from kedrec_agent.kg.evidence import CandidateDrug, KGEvidence, evidence_for_candidates
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.literature.search import Hit, LiteratureSearch, hits_for_candidates
from kedrec_agent.reasoning.schema import EntityRef, PatientView, ReasoningTask
from training.tasks.schema import Task

log = logging.getLogger(__name__)

EVIDENCE_CACHE_VERSION = "ranker-evidence-2"
"""Changes whenever what is stored per task changes."""


@dataclass
class EvidenceSources:
    """Where a task's evidence comes from (the settings of ``training.tasks.visible.Sources``).

    Attributes:
        kg: the knowledge graph, unmasked (each task masks its own view).
        literature: the literature search; ``None``: no passages.
        literature_k: passages kept per candidate.
        paths_per_drug: mechanism paths kept per candidate.
    """

    kg: KnowledgeGraph
    literature: LiteratureSearch | None
    literature_k: int = 2
    paths_per_drug: int = 3


class TaskEvidence(BaseModel):
    """One task's structured evidence, gold masked (and optionally the gold visible)."""

    task_id: str
    task_digest: str = Field(description="the task's digest (:func:`task_digest`)")
    candidates: list[CandidateDrug] = Field(description="in the task's candidate order")
    hits: dict[str, list[Hit]] = Field(
        default_factory=dict, description="passages per candidate DrugBank id"
    )
    known: CandidateDrug | None = Field(
        default=None, description="the positive with its own indication edges visible"
    )


def masked_view(kg: KnowledgeGraph, task: Task) -> KnowledgeGraph:
    """The graph as the task is answered: every exclusion of the task hidden."""
    return kg.with_exclusions(task.exclusions)


def known_view(kg: KnowledgeGraph, task: Task) -> KnowledgeGraph:
    """The graph with the positive's own indication edges visible, every other exclusion kept."""
    return kg.with_exclusions([(d, x) for d, x in task.exclusions if d != task.positive])


def task_evidence(task: Task, sources: EvidenceSources, *, known: bool = False) -> TaskEvidence:
    """Gather one task's evidence as :func:`training.tasks.visible.visible_task` does.

    Args:
        task: the task.
        sources: graph, literature and settings.
        known: also gather the positive with its own indication edges visible.

    Raises:
        KedrecError: a store failed (the caller leaves the task out).
    """
    ids = [c.id for c in task.candidates]
    masked = masked_view(sources.kg, task)
    evidence = evidence_for_candidates(
        masked, task.disease, ids, paths_per_drug=sources.paths_per_drug
    )
    hits: dict[str, list[Hit]] = {}
    mentions: dict[str, int] = {}
    if sources.literature is not None:
        pairs = ((drug, task.disease) for drug in ids)
        found = hits_for_candidates(sources.literature, pairs, k=sources.literature_k)
        hits = {drug: drug_hits or [] for drug, drug_hits in found}
        mentions = co_mentions(sources.literature, task.disease)
    seen = None
    if known:
        shown = evidence_for_candidates(
            known_view(sources.kg, task),
            task.disease,
            [task.positive],
            paths_per_drug=sources.paths_per_drug,
        )
        seen = shown.candidates[0]
    for cand in [*evidence.candidates, *([seen] if seen else [])]:
        cand.mentions = mentions.get(cand.drug.local_id, 0)
    return TaskEvidence(
        task_id=task.task_id,
        task_digest=task_digest(task),
        candidates=evidence.candidates,
        hits=hits,
        known=seen,
    )


def co_mentions(literature: LiteratureSearch, disease: str) -> dict[str, int]:
    """Documents naming each drug with ``disease``, as the agent's ``kg_evidence`` node asks.

    The agent fills :attr:`CandidateDrug.mentions` from
    :meth:`~kedrec_agent.literature.search.LiteratureSearch.co_mentions` (an unknown
    disease: none); :func:`~kedrec_agent.kg.evidence.evidence_for_candidates` leaves it 0,
    so it is filled here the same way. No literature is masked by the protocol.
    """
    try:
        return literature.co_mentions(disease)
    except UnknownEntityError:
        return {}


def task_digest(task: Task) -> str:
    """sha256 (first 32 hex digits) of the task's JSON: what a cached line is looked up by."""
    return hashlib.sha256(task.model_dump_json().encode()).hexdigest()[:32]


def cache_key(sources: EvidenceSources, *, known: bool, data: str) -> str:
    """The cache file's key: the data version and every evidence setting."""
    key = {
        "data": data,
        "literature": sources.literature is not None,
        "literature_k": sources.literature_k,
        "paths_per_drug": sources.paths_per_drug,
        "known": known,
        "kedrec_agent": __version__,
        "evidence": EVIDENCE_VERSION,
        "cache": EVIDENCE_CACHE_VERSION,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


class EvidenceCache:
    """Tasks' evidence, gathered once: ``ranker-evidence-<key>.jsonl`` in ``cache_dir``.

    Lines are looked up by the task's digest (:func:`task_digest`), so any subset or
    superset of a task list reuses what was gathered; an interrupted run resumes.

    Args:
        sources: graph, literature and settings.
        cache_dir: where the file is kept; ``None``: nothing is kept on disk.
        known: also gather each positive with its own edges visible (training).
        data: the data version in the key (:func:`kedrec_agent.kg.build.data_version`).
    """

    def __init__(
        self,
        sources: EvidenceSources,
        cache_dir: Path | None,
        *,
        known: bool = False,
        data: str = "",
    ) -> None:
        self.sources = sources
        self.known = known
        self.path = None
        if cache_dir is not None:
            key = cache_key(sources, known=known, data=data)
            self.path = cache_dir / f"ranker-evidence-{key}.jsonl"
        self._found: dict[str, TaskEvidence] | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> dict[str, TaskEvidence]:
        if self._found is None:
            self._found = {}
            if self.path is not None and self.path.is_file():
                lines = self.path.read_text().splitlines()
                for number, line in enumerate(lines, start=1):
                    try:
                        record = TaskEvidence.model_validate_json(line)
                    except ValueError:
                        log.warning("evidence cache %s, line %d unreadable", self.path, number)
                        continue
                    self._found[record.task_digest] = record
        return self._found

    def _store(self, evidence: TaskEvidence) -> None:
        with self._lock:
            self._loaded()[evidence.task_digest] = evidence
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a") as handle:
                    handle.write(evidence.model_dump_json() + "\n")

    def _gather(self, task: Task) -> TaskEvidence | None:
        try:
            return task_evidence(task, self.sources, known=self.known)
        except KedrecError as exc:
            log.warning("no evidence for task %s: %s", task.task_id, type(exc).__name__)
            return None

    def get(self, task: Task) -> TaskEvidence | None:
        """The task's evidence, gathered now if it is not cached (``None``: a store failed)."""
        found = self._loaded().get(task_digest(task))
        if found is None:
            found = self._gather(task)
            if found is not None:
                self._store(found)
        return found

    def gather(
        self, tasks: Sequence[Task], *, workers: int = 2, progress: bool = True
    ) -> dict[str, TaskEvidence]:
        """Every task's evidence, the missing ones gathered ``workers`` at a time.

        Returns:
            Evidence by task id, in task order; a task whose evidence could not be gathered
            (a store error) is left out and logged.
        """
        cached = self._loaded()
        todo = [t for t in tasks if task_digest(t) not in cached]
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            bar = tqdm(total=len(todo), desc="ranker evidence", unit="task", disable=not progress)
            for evidence in pool.map(self._gather, todo):
                bar.update()
                if evidence is not None:
                    self._store(evidence)
            bar.close()
        found = self._loaded()
        return {t.task_id: found[task_digest(t)] for t in tasks if task_digest(t) in found}


def reasoning_view(task: Task, evidence: TaskEvidence, kg: KnowledgeGraph) -> ReasoningTask:
    """The reasoning task the gathered evidence gives, built as ``visible_task`` builds it.

    Used to check that the ranker answers from the same evidence as the harness's cached
    reasoning tasks: the same items, with the same texts, for the same candidates
    (``kg``'s disease equivalences decide which passages are about the pair).
    """
    patient = PatientView(conditions=[EntityRef(id=task.disease, name=task.disease_name)])
    found = KGEvidence(candidates=evidence.candidates, interactions=[])
    names = {task.disease: task.disease_name}
    hits = pair_passages(evidence.hits, found, kg.equivalences.same)
    return reasoning_task(patient, found, hits, names, max_choices=1)


def same_evidence(shown: ReasoningTask, cached: ReasoningTask) -> bool:
    """Whether two reasoning tasks show the same candidates and evidence items (by text)."""

    def items(task: ReasoningTask) -> list[tuple[str, ...]]:
        return [(e.kind, *e.drugs, e.text, e.citation or "") for e in task.evidence]

    return shown.candidate_ids() == cached.candidate_ids() and items(shown) == items(cached)
