"""Teachers' answers and their validation (no stores needed)."""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from kedrec_agent.reasoning.constrained import MAX_RATIONALE_CHARS
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
                 citation="PMID:1", priority=1.5, topic="literature"),
        Evidence(id="E2", kind="kg", drugs=["DB00619"], priority=2.8, topic="mechanism",
                 text="Imatinib decreases activity of ABL1 (DRUGBANK::target::Compound:Gene); "
                      "ABL1 is associated with CML (Hetionet::DaG::Disease:Gene)."),
        Evidence(id="E3", kind="literature", drugs=["DB00619"], text="Imatinib in CML: a trial.",
                 citation="PMID:2", priority=1.9, topic="literature"),
        Evidence(id="E4", kind="literature", drugs=["DB00619"], text="Not shown.",
                 citation="PMID:3", priority=1.1, topic="literature"),
        Evidence(id="E5", kind="kg", drugs=["DB00619"], priority=0.5, topic="class",
                 text="Imatinib: pharmacologic class Kinase Inhibitor (FDA EPC); ATC L01XE."),
    ],
    max_choices=1,
)  # fmt: skip
SHOWN = ["E1", "E2", "E3", "E5"]
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


def _stated(rationale: str) -> list[str]:
    """The rationale's cited sentences, without their ids."""
    return [re.sub(r" \[E\d+\]\.$", "", s) for s in re.split(r"(?<=\.) ", rationale) if "[E" in s]


def test_evidence_teacher_explains_the_gold_from_shown_items_only() -> None:
    text = EvidenceTeacher().answer(TASK, VISIBLE, SHOWN)
    assert text.startswith(ANSWER_PREFIX) and validate(text, TASK, VISIBLE, SHOWN) is None
    answer = json.loads(text)
    (choice,) = answer["choices"]
    assert choice["drug"] == "DB00619" and choice["evidence"] == ["E2", "E5", "E3"]  # shown only
    rationale = choice["rationale"]
    # How it acts first (DrugMechDB's order), then its class, then the passage.
    assert rationale.startswith(
        "Imatinib decreases activity of ABL1; ABL1 is associated with CML [E2]. "
        "Imatinib: pharmacologic class Kinase Inhibitor (FDA EPC); ATC L01XE [E5]. "
        "Imatinib for CML is reported in PMID:2 [E3]."
    )
    assert rationale.endswith("Aspirin is weaker: no gene links it to CML.")
    # Faithful: every stated fact is a shown item about the gold drug; the privileged
    # DrugMechDB mechanism (BCR/ABL) is never stated.
    shown_text = {e.id: e.text for e in VISIBLE.evidence if e.id in SHOWN}
    for sentence, cited in zip(_stated(rationale), choice["evidence"], strict=True):
        source = shown_text[cited]
        words = set(re.findall(r"[a-z0-9]+", sentence.lower()))
        said = {"for", "is", "reported", "in", "pmid", "2"}  # a passage is cited, not quoted
        assert words <= set(re.findall(r"[a-z0-9]+", source.lower())) | said, sentence
    assert "BCR" not in rationale and len(rationale) <= MAX_RATIONALE_CHARS
    assert answer["confidence"] == 0.9 and EvidenceTeacher.privileged == ("drug",)


def test_evidence_teacher_stays_within_what_the_student_can_write() -> None:
    long = VISIBLE.model_copy(deep=True)
    steps = " ".join(f"ABL1 acts in step {n}." for n in range(40))
    long.evidence[1].text = f"Imatinib decreases activity of ABL1; {steps}"
    rationale = json.loads(EvidenceTeacher().answer(TASK, long, SHOWN))["choices"][0]["rationale"]
    assert len(rationale) <= MAX_RATIONALE_CHARS and "[E2]" not in rationale and "[E5]" in rationale
    alone = long.model_copy(update={"evidence": long.evidence[:2]})
    text = EvidenceTeacher().answer(TASK, alone, ["E1", "E2"])  # one long item: cut, still cited
    assert validate(text, TASK, alone, ["E1", "E2"]) is None
    assert (
        "[E2]" in text and len(json.loads(text)["choices"][0]["rationale"]) <= MAX_RATIONALE_CHARS
    )


def test_validation_rejects_wrong_drug_unshown_ids_no_citation_and_junk() -> None:
    cases: dict[str, str] = {
        "gold drug": answer_json("DB00945", "r [E1]", ["E1"], 0.9),
        "not shown": answer_json("DB00619", "r", ["E2", "E4"], 0.9),
        "no shown evidence": answer_json("DB00619", "r", [], 0.9),
        "JSON": "I think imatinib.",
        "gate": answer_json("DB00619", "It works [E2]. It works [E2].", ["E2"], 0.9),
    }
    for expected, text in cases.items():
        problem = validate(text, TASK, VISIBLE, SHOWN)
        assert problem is not None and expected in problem, (expected, problem)


def test_chat_teacher_sends_gold_and_evidence_and_strips_fences() -> None:
    reply = (
        "```json\n" + answer_json("DB00619", "Imatinib inhibits ABL1 [E2]", ["E2"], 0.8) + "\n```"
    )
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
    assert "BCR/ABL" not in user  # the privileged mechanism is not given to be stated


def test_a_departure_from_the_ranker_is_taught_only_with_stronger_shown_evidence() -> None:
    from training.collect import favoured

    def ranked(aspirin: float) -> ReasoningTask:
        return VISIBLE.model_copy(
            update={
                "candidates": [
                    VISIBLE.candidates[0].model_copy(update={"probability": aspirin}),
                    VISIBLE.candidates[1].model_copy(update={"probability": 1 - aspirin}),
                ]
            }
        )

    against = ranked(0.8)  # the ranker prefers Aspirin; the shown evidence, Imatinib
    assert favoured(against, "DB00619") and favoured(ranked(0.2), "DB00619")
    text = EvidenceTeacher().answer(TASK, against, SHOWN)
    assert validate(text, TASK, against, SHOWN) is None
    # Why the ranker's choice is weaker comes from the evidence, not from its probability.
    assert json.loads(text)["choices"][0]["rationale"].endswith(
        "Aspirin is weaker: no gene links it to CML."
    )
    weak = against.model_copy(update={"evidence": [VISIBLE.evidence[0]]})  # Aspirin's only
    assert not favoured(weak, "DB00619")  # neither the ranker nor the evidence: not taught
