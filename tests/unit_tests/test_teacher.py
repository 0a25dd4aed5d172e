"""Teachers' answers and their validation (no stores needed)."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from kedrec_agent.reasoning.prompts import ANSWER_PREFIX
from kedrec_agent.reasoning.schema import (
    Candidate,
    EntityRef,
    Evidence,
    PatientView,
    ReasoningTask,
)
from training.tasks.schema import Task, TaskCandidate
from training.teacher import ChatTeacher, EvidenceTeacher, answer_json, validate

VISIBLE = ReasoningTask(
    patient=PatientView(conditions=[EntityRef(id="MESH:D015464", name="CML")]),
    candidates=[Candidate(id="DB00945", name="Aspirin"), Candidate(id="DB00619", name="Imatinib")],
    evidence=[
        Evidence(id="E1", kind="literature", drugs=["DB00945"], text="Aspirin and CML.",
                 citation="PMID:1", priority=1.5),
        Evidence(id="E2", kind="kg", drugs=["DB00619"], priority=2.8,
                 text="Imatinib acts on the gene ABL1, which is associated with CML "
                      "(path score 0.80)."),
        Evidence(id="E3", kind="literature", drugs=["DB00619"], text="Imatinib in CML: a trial.",
                 citation="PMID:2", priority=1.9),
        Evidence(id="E4", kind="literature", drugs=["DB00619"], text="Not shown.",
                 citation="PMID:3", priority=1.1),
    ],
    max_choices=1,
)  # fmt: skip
SHOWN = ["E1", "E2", "E3"]
TASK = Task(
    task_id="MESH:D015464|DB00619",
    split="train",
    disease="MESH:D015464",
    disease_name="CML",
    positive="DB00619",
    source="drugmechdb",
    candidates=[
        TaskCandidate(id="DB00945", name="Aspirin", negative="hard"),
        TaskCandidate(id="DB00619", name="Imatinib", negative="positive"),
    ],
    rationale="imatinib decreases activity of BCR/ABL; BCR/ABL causes CML (ph+); x; y.",
)


def test_evidence_teacher_writes_a_valid_cited_answer_from_the_gold() -> None:
    text = EvidenceTeacher().answer(TASK, VISIBLE, SHOWN)
    assert text.startswith(ANSWER_PREFIX) and validate(text, TASK, VISIBLE, SHOWN) is None
    answer = json.loads(text)
    (choice,) = answer["choices"]
    assert choice["drug"] == "DB00619" and choice["evidence"] == ["E2", "E3"]  # shown only
    rationale = choice["rationale"]
    assert rationale.startswith("Imatinib: imatinib decreases activity of BCR/ABL; BCR/ABL")
    assert "; x." in rationale and "; y" not in rationale  # at most 3 mechanism steps
    assert "[E2]" in rationale and "PMID:2 [E3]" in rationale and "path score" not in rationale
    assert answer["confidence"] == 0.9


def test_validation_rejects_wrong_drug_unshown_ids_no_citation_and_junk() -> None:
    cases: dict[str, str] = {
        "gold drug": answer_json("DB00945", "r [E1]", ["E1"], 0.9),
        "not shown": answer_json("DB00619", "r", ["E2", "E4"], 0.9),
        "no shown evidence": answer_json("DB00619", "r", [], 0.9),
        "JSON": "I think imatinib.",
    }
    for expected, text in cases.items():
        problem = validate(text, TASK, VISIBLE, SHOWN)
        assert problem is not None and expected in problem, (expected, problem)


def test_chat_teacher_sends_gold_and_evidence_and_strips_fences() -> None:
    reply = "```json\n" + answer_json("DB00619", "ABL1 [E2]", ["E2"], 0.8) + "\n```"
    model = FakeListChatModel(responses=[reply])
    seen: list[Any] = []
    original = model.invoke

    def spy(messages: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(messages)
        return original(messages, *args, **kwargs)

    object.__setattr__(model, "invoke", spy)
    text = ChatTeacher(model, name="fake").answer(TASK, VISIBLE, SHOWN)
    assert validate(text, TASK, VISIBLE, SHOWN) is None
    user = seen[0][1][1]
    assert "Correct answer: DB00619" in user and "[E3]" in user and "Not shown" not in user
