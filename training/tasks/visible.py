"""What a task shows: its evidence gathered by the agent's tools with the gold masked.

For a task the knowledge graph is masked with the task's exclusions (every known
indication edge of the disease and its DOID/MeSH equivalents, the gold included), the
candidates' KG evidence and literature are gathered as the agent gathers them, and the
reasoning task is built as the reasoning node builds it. Trace collection
(:mod:`training.collect`) and the evaluation harness (``kedrec eval``) both read a task
through :func:`visible_task`, so the student is trained and evaluated on the same view.

Example:
    >>> visible, shown = visible_task(task, Sources(kg, literature, model))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from kedrec_agent.agent.evidence import pair_passages, reasoning_task
from kedrec_agent.agent.scoring import Probabilities, rank_candidates
from kedrec_agent.kg.evidence import evidence_for_candidates
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.literature.search import Hit, LiteratureSearch, hits_for_candidates
from kedrec_agent.ranking.model import Ranker
from kedrec_agent.ranking.semantic import NameSimilarity
from kedrec_agent.ranking.tables import DrugTables
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import ReasoningModel
from kedrec_agent.reasoning.schema import EntityRef, PatientView, ReasoningTask
from training.tasks.schema import Task


@dataclass
class Sources:
    """Where a task's evidence comes from.

    The graph, the literature (optional), the model whose tokenizer and context window
    shape the prompt, and optionally the learned ranker: with it each candidate shows its
    probability, as the agent's prompt does (its class features read the bundle's tables,
    its name features ``names``: the agent's rank node passes both).
    """

    kg: KnowledgeGraph
    literature: LiteratureSearch | None
    model: ReasoningModel
    literature_k: int = 2
    paths_per_drug: int = 3
    ranker: Ranker | None = None
    names: NameSimilarity | None = None


def visible_task(task: Task, sources: Sources) -> tuple[ReasoningTask, list[str]]:
    """The reasoning task the student sees for ``task`` (gold masked) and the shown ids."""
    kg = sources.kg.with_exclusions(task.exclusions)
    ids = [c.id for c in task.candidates]
    evidence = evidence_for_candidates(kg, task.disease, ids, paths_per_drug=sources.paths_per_drug)
    hits: dict[str, list[Hit]] = {}
    if sources.literature is not None:
        pairs = ((drug, task.disease) for drug in ids)
        found = hits_for_candidates(sources.literature, pairs, k=sources.literature_k)
        hits = {drug: drug_hits or [] for drug, drug_hits in found}  # None: an unknown id
    patient = PatientView(conditions=[EntityRef(id=task.disease, name=task.disease_name)])
    names = {task.disease: task.disease_name}
    probabilities: Probabilities = {}
    if sources.ranker is not None:
        probabilities = rank_candidates(
            sources.ranker,
            evidence,
            hits,
            kg,
            DrugTables.from_settings(),
            sources.literature,
            sources.names,
        )
    # as the reason node: only passages naming the drug and the disease are shown
    shown_hits = pair_passages(hits, evidence, kg.equivalences.same)
    visible = reasoning_task(
        patient, evidence, shown_hits, names, max_choices=1, probabilities=probabilities
    )
    # reasoning_task names candidates from the graph's labels; the task's names are the
    # linker's (the same source as serving's), so use them.
    named = {c.id: c.name for c in task.candidates}
    visible.candidates = [c.model_copy(update={"name": named[c.id]}) for c in visible.candidates]
    _, shown = Reasoner(sources.model).prompt(visible)
    return visible, sorted(shown, key=lambda i: int(i[1:]))
