"""The graph's routes on the tiny bundle: answer, abstentions, safety veto, review, streaming.

The stores are the tiny bundle's (real linker and KG); literature is absent and the model
"unavailable", so the reason node ranks by evidence (deterministic).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from kedrec_agent.agent.context import Context
from kedrec_agent.agent.graph import build_graph
from kedrec_agent.agent.result import AgentResult
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.services import Services

NOTE = "68-year-old woman with type 2 diabetes, allergic to penicillin"


def _run(graph: Any, state: dict[str, Any], **context: Any) -> AgentResult:
    return AgentResult.model_validate(graph.invoke(state, context=Context(**context))["result"])


def test_an_answer_carries_evidence_versions_timings_and_missing_sources(tiny_graph: Any) -> None:
    result = _run(tiny_graph, {"patient": NOTE})
    assert not result.abstained and result.recommendations
    assert [c.id for c in result.patient.conditions] == ["MESH:D003924"]
    assert (result.patient.age, result.patient.sex) == (68, "female")
    for drug in result.recommendations:
        assert drug.evidence and all(drug.drug_id in e.drugs for e in drug.evidence)
        assert 0 < drug.score <= 1
    # No model: the ranker's order answers, and its calibrated probability is the confidence.
    top = result.recommendations[0]
    assert result.fallback and top.probability is not None
    assert result.confidence == top.probability == result.conditions[0].confidence
    assert any(n.startswith("Literature unavailable") for n in result.notes)
    assert result.versions.data == "kg:test" and result.versions.model is None
    assert list(result.timings_ms) == [
        "link", "kg_evidence", "literature", "rank", "reason", "safety"
    ]  # fmt: skip


def test_a_listed_indication_is_named_by_its_sources_not_a_near_certain_probability(
    tiny_graph: Any, tiny_kg: KnowledgeGraph
) -> None:
    top = _run(tiny_graph, {"patient": NOTE}).recommendations[0]
    sources = {
        e.relation.split("::")[0]
        for row in tiny_kg.drugs_for_disease("MESH:D003924")
        if row.drug.local_id == top.drug_id
        for e in row.edges
    }
    assert sources and len(top.indicated_by) == len(sources)
    assert top.backing() == f"listed indication: {', '.join(top.indicated_by)}"
    # Its indication masked (as at evaluation), it is backed by the ranker's probability.
    masked = _run(tiny_graph, {"patient": NOTE}, exclusions=((top.drug_id, "MESH:D003924"),))
    same = [d for d in masked.recommendations if d.drug_id == top.drug_id]
    assert all(not d.indicated_by and d.backing().startswith("ranker probability") for d in same)


def test_without_the_ranker_the_fallback_is_low_confidence(tiny_graph: Any) -> None:
    result = _run(tiny_graph, {"patient": NOTE}, ranker=False)
    assert result.fallback and result.low_confidence  # the evidence ranking says 0.2
    assert all(d.probability is None for d in result.recommendations)
    assert any("ranker was switched off" in n for n in result.notes)


def test_nothing_linked_abstains_after_linking_only(tiny_graph: Any) -> None:
    result = _run(tiny_graph, {"patient": "feels fine, came for a check-up"})
    assert result.abstained and "No condition could be recognised" in result.reason
    assert list(result.timings_ms) == ["link"] and not result.recommendations


def test_invalid_record_abstains_naming_the_field_not_the_value(tiny_graph: Any) -> None:
    result = _run(tiny_graph, {"patient": "", "record": {"conditions": ["diabetes"], "age": 4321}})
    assert result.abstained and "age" in result.reason and "4321" not in result.reason


def test_low_confidence_abstains_when_asked(tiny_graph: Any) -> None:
    result = _run(tiny_graph, {"patient": NOTE}, low_confidence="abstain", ranker=False)
    assert result.abstained and result.reason.startswith("Low confidence (0.20 < 0.30)")
    assert not result.recommendations and "safety" not in result.timings_ms


def test_no_candidate_abstains(tiny_graph: Any, tiny_kg: KnowledgeGraph) -> None:
    drugs = [row.drug.id for row in tiny_kg.drugs_for_disease("MESH:D015464")]
    masked = tuple((d.removeprefix("Compound::"), "MESH:D015464") for d in drugs)
    result = _run(tiny_graph, {"patient": "chronic myeloid leukemia"}, exclusions=masked)
    assert result.abstained and not result.recommendations
    assert (
        result.reason == "The knowledge graph has no candidate drug for the recognised conditions."
    )
    assert list(result.timings_ms) == ["link", "kg_evidence"]


def test_an_allergy_withholds_the_drug_and_says_why(
    tiny_graph: Any, tiny_kg: KnowledgeGraph
) -> None:
    # Only imatinib (a drug the tiny vocabulary names) is left as a CML indication.
    others = [r.drug.id for r in tiny_kg.drugs_for_disease("MESH:D015464")]
    masked = tuple(
        (d.removeprefix("Compound::"), "MESH:D015464") for d in others if not d.endswith("DB00619")
    )
    note = "chronic myeloid leukemia"
    top = _run(tiny_graph, {"patient": note}, max_choices=1, exclusions=masked).recommendations
    assert [r.drug_id for r in top] == ["DB00619"]
    result = _run(tiny_graph, {"patient": f"{note}, allergic to imatinib"}, max_choices=1,
                  exclusions=masked)  # fmt: skip
    assert not result.recommendations
    (veto,) = [w for w in result.warnings if w.severity == "veto"]
    assert veto.drug_id == "DB00619" and "allergic" in veto.message
    assert result.abstained and result.reason.startswith("No candidate is left")
    assert list(result.timings_ms)[-1] == "kg_evidence"  # left out before the model
    # Without the masking the other CML drugs are there: a safe alternative, not a veto only.
    result = _run(tiny_graph, {"patient": f"{note}, allergic to imatinib"}, max_choices=1)
    assert result.recommendations and result.recommendations[0].drug_id != "DB00619"
    assert [w.drug_id for w in result.warnings if w.severity == "veto"] == ["DB00619"]
    (answer,) = result.conditions
    assert answer.status == "options" and answer.drug_ids == [result.recommendations[0].drug_id]


def test_a_condition_a_current_medication_treats_is_said_to_be_treated(tiny_graph: Any) -> None:
    result = _run(tiny_graph, {"patient": "type 2 diabetes"})
    assert "DB00331" in [r.drug_id for r in result.recommendations]  # metformin: an option
    result = _run(tiny_graph, {"record": {"conditions": ["type 2 diabetes"],
                                          "medications": ["metformin"]}})  # fmt: skip
    (answer,) = result.conditions
    assert answer.status == "treated" and "treated by Metformin" in answer.reason
    assert result.abstained and not result.recommendations
    from rich.console import Console

    from kedrec_agent import cli

    shown = Console(record=True, width=200)
    original, cli.out = cli.out, shown
    try:
        cli._print_result(result)
    finally:
        cli.out = original
    printed = shown.export_text()
    assert printed.count(answer.reason) == 1  # the reason names its condition, once
    assert f"{answer.condition.name}: {answer.condition.name}:" not in printed


def test_unrecognised_structured_values_are_reported_not_dropped(tiny_graph: Any) -> None:
    record = {"conditions": ["DOID:9352", "ICD10:E11.9"], "medications": ["zzqxv 5 mg"]}
    result = _run(tiny_graph, {"record": record})
    assert [c.id for c in result.patient.conditions] == ["MESH:D003924"]
    assert any("ICD10:E11.9" in n and "ICD-10" in n for n in result.notes)
    unchecked = [w for w in result.warnings if w.kind == "unchecked"]
    assert len(unchecked) == 1 and "zzqxv 5 mg" in unchecked[0].message


def test_review_pauses_and_resumes_with_edit_after_an_invalid_decision(
    tiny_agent_services: Services,
) -> None:
    reviewed = build_graph(checkpointer=InMemorySaver(), services=tiny_agent_services)
    config: Any = {"configurable": {"thread_id": "t1"}}
    context = Context(review=True)
    paused = reviewed.invoke({"patient": NOTE}, config, context=context)
    (question,) = paused["__interrupt__"]
    choices = question.value["recommendation"]["choices"]
    again = reviewed.invoke(Command(resume={"action": "maybe"}), config, context=context)
    assert "action" in again["__interrupt__"][0].value["error"]
    drop = choices[0]["drug_id"]
    done = reviewed.invoke(
        Command(resume={"action": "edit", "drop": [drop], "note": "n", "reviewer": "Dr A"}),
        config,
        context=context,
    )
    result = AgentResult.model_validate(done["result"])
    assert result.review is not None and result.review.action == "edit"
    assert drop not in [r.drug_id for r in result.recommendations]
    assert f"Edited by Dr A: removed {drop}." in result.notes
    rejected = build_graph(checkpointer=InMemorySaver(), services=tiny_agent_services)
    rejected.invoke({"patient": NOTE}, config, context=context)
    reject: Command[Any] = Command(resume={"action": "reject", "note": "x"})
    out = rejected.invoke(reject, config, context=context)
    assert out["result"]["abstained"] and out["result"]["reason"] == "Rejected by the reviewer: x"


def test_stages_stream_in_order(tiny_graph: Any) -> None:
    custom = [
        chunk
        for mode, chunk in tiny_graph.stream(
            {"patient": NOTE}, context=Context(), stream_mode=["custom", "updates"]
        )
        if mode == "custom"
    ]
    done = [c["stage"] for c in custom if c["status"] == "done"]
    assert done == ["link", "kg_evidence", "literature", "rank", "reason", "safety", "answer"]
    assert custom[0] == {"stage": "link", "status": "started"}


def test_logs_never_contain_the_patient_text(
    tiny_graph: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Zorblatt"
    _run(tiny_graph, {"patient": f"Mr {secret}, 54, type 2 diabetes, on warfarin"})
    _run(tiny_graph, {"patient": f"Mr {secret} feels fine"})
    assert caplog.records and not any(secret in r.getMessage() for r in caplog.records)
