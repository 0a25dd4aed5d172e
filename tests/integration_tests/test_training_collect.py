"""Trace collection on the real stores: gold masked, resumable, invalid answers rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from kedrec_agent.config import Settings
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.reasoning.prompts import ANSWER_PREFIX
from kedrec_agent.reasoning.runtime import load_model
from kedrec_agent.reasoning.schema import ReasoningTask
from training.collect import NOT_FAVOURED, collect_traces, favoured
from training.tasks.schema import Task, TaskCandidate, Trace
from training.tasks.visible import Sources, visible_task
from training.teacher import EvidenceTeacher, answer_json, validate

pytestmark = pytest.mark.integration

CML = "MESH:D015464"


def _task(positive: str, others: list[str], kg: KnowledgeGraph) -> Task:
    indications = {r.drug.local_id for r in kg.drugs_for_disease(CML)}
    return Task(
        task_id=f"{CML}|{positive}",
        split="train",
        disease=CML,
        disease_name="Chronic myeloid leukemia",
        positive=positive,
        source="drugbank",
        candidates=[TaskCandidate(id=positive, name="p", negative="positive")]
        + [TaskCandidate(id=o, name="n", negative="hard") for o in others],
        exclusions=[(d, e) for d in sorted(indications) for e in (CML, "DOID:8552")],
    )


@pytest.fixture(scope="module")
def sources(bundle_settings: Settings) -> Sources:
    from kedrec_agent.literature.search import LiteratureSearch

    return Sources(
        kg=KnowledgeGraph.from_settings(bundle_settings),
        literature=LiteratureSearch.from_settings(bundle_settings),
        model=load_model(bundle_settings),
    )


def test_the_gold_edges_are_invisible_to_the_student(sources: Sources) -> None:
    task = _task("DB00619", ["DB00945", "DB00331"], sources.kg)
    visible, shown = visible_task(task, sources)
    assert visible.candidate_ids() == ["DB00619", "DB00945", "DB00331"]
    kg_items = [e.text for e in visible.evidence if e.kind == "kg"]
    assert not any(" treats " in text or "(Hetionet::CtD" in text for text in kg_items)
    assert set(shown) <= {e.id for e in visible.evidence}


def test_collection_writes_valid_traces_resumes_and_rejects(
    sources: Sources, tmp_path: Path
) -> None:
    good = _task("DB00619", ["DB00945", "DB00331"], sources.kg)
    out = tmp_path / "traces.jsonl"
    report = collect_traces([good], out, EvidenceTeacher(), sources, progress=False)
    assert report.written == 1, report.summary()
    trace = Trace.model_validate_json(out.read_text().splitlines()[0])
    visible, shown = visible_task(good, sources)
    assert trace.reasoning_task == visible
    assert validate(ANSWER_PREFIX + trace.completion, good, visible, shown) is None
    assert set(trace.evidence_ids) <= set(shown)
    again = collect_traces([good], out, EvidenceTeacher(), sources, progress=False)
    assert (again.written, again.skipped_done) == (0, 1)

    class Wrong:
        name = "wrong"
        privileged: tuple[str, ...] = ("drug",)

        def answer(self, task: Task, visible: ReasoningTask, shown: list[str]) -> str:
            return answer_json(task.candidates[1].id, "no", shown[:1], 0.9)

    bad = _task("DB01254", ["DB00945"], sources.kg)
    rejected = collect_traces([bad], out, Wrong(), sources, progress=False, consistent=False)
    assert rejected.written == 0 and sum(rejected.rejected.values()) == 1
    assert NOT_FAVOURED not in rejected.rejected
    assert len(out.read_text().splitlines()) == 1


def test_a_task_whose_evidence_favours_another_drug_is_not_taught(
    sources: Sources, tmp_path: Path
) -> None:
    # Aspirin as the "true" drug for CML beside imatinib: the teacher would name aspirin,
    # but everything the student is shown points to imatinib.
    odd = _task("DB00945", ["DB00619"], sources.kg)
    visible, _ = visible_task(odd, sources)
    assert favoured(visible, "DB00619") and not favoured(visible, "DB00945")
    out = tmp_path / "traces.jsonl"
    report = collect_traces([odd], out, EvidenceTeacher(), sources, progress=False)
    assert report.written == 0 and report.rejected == {NOT_FAVOURED: 1}
    kept = collect_traces([odd], out, EvidenceTeacher(), sources, progress=False, consistent=False)
    assert kept.written == 1
    trace = Trace.model_validate_json(out.read_text())
    assert trace.provenance["selection"] == "all"


def test_the_student_sees_only_passages_about_the_pair_as_served(sources: Sources) -> None:
    # The reason node shows a passage for (drug, condition) only when its annotations name
    # both; the traces must show the same, or the student learns from noise it never sees.
    from kedrec_agent.literature.search import hits_for_candidates

    assert sources.literature is not None
    task = _task("DB00619", ["DB00945", "DB00331"], sources.kg)
    same = sources.kg.equivalences.same
    pairs = ((c.id, CML) for c in task.candidates)
    found = dict(hits_for_candidates(sources.literature, pairs, k=2))
    about = {
        (drug, h.citation)
        for drug, hits in found.items()
        for h in hits or ()
        if drug in h.drugs and any(same(d, CML) for d in h.diseases)
    }
    every = {(drug, h.citation) for drug, hits in found.items() for h in hits or ()}
    assert every - about, "the search returned no passage off the pair: nothing to leave out"
    visible, _ = visible_task(task, sources)
    shown = {(e.drugs[0], e.citation) for e in visible.evidence if e.kind == "literature"}
    assert shown <= about


def test_the_prompt_shows_the_ranker_probabilities_with_its_name_features(
    sources: Sources, bundle_settings: Settings
) -> None:
    # The rank node passes the name similarity; without it the shown probabilities were
    # those of a weaker ranker than the one served.
    import dataclasses

    from kedrec_agent.ranking.model import load_ranker
    from kedrec_agent.ranking.semantic import NameSimilarity

    task = _task("DB00619", ["DB00945", "DB00331"], sources.kg)
    ranked = dataclasses.replace(sources, ranker=load_ranker())
    named = dataclasses.replace(ranked, names=NameSimilarity.from_settings(bundle_settings))

    def shown(view: Sources) -> list[float | None]:
        return [c.probability for c in visible_task(task, view)[0].candidates]

    assert None not in shown(named)
    assert shown(named) != shown(ranked)
