"""The rationale sanity gate: what a clinician must never be shown as an explanation."""

from __future__ import annotations

from typing import Literal

import pytest

from kedrec_agent.reasoning.gate import (
    MAX_CHARS,
    entity_ids,
    evidence_facts,
    rationale_problem,
    templated_rationale,
    unknown_names,
    words,
)
from kedrec_agent.reasoning.output import recommendation_from_text
from kedrec_agent.reasoning.prompts import ANSWER_PREFIX
from kedrec_agent.reasoning.schema import (
    Candidate,
    EntityRef,
    Evidence,
    PatientView,
    ReasoningTask,
    Topic,
)

OTHERS = ["Azacitidine", "Cyanocobalamin"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Folic acid is the best-supported candidate for Azacitidine.", "names a drug"),
        ("It is the best-supported candidate for Anemia.", "does not name Folic acid"),
        ("Folic acid treats anemia. Folic acid treats anemia.", "repeats a sentence"),
        ("Folic acid is the best-supported candidate for Hypertension.", "instead of Anemia"),
        ("Folic acid lowers blood pressure in hypertension.", "names Hypertension instead"),
        ("Folic acid " + "helps " * MAX_CHARS, "longer than"),
        ("Folic acid treats anemia (E1); 11 known [E2", "cut off"),
        ("Folic acid treats anemia (see E1.", "cut off"),
    ],
)
def test_failing_rationales(text: str, why: str) -> None:
    problem = rationale_problem(text, "Folic acid", OTHERS, "Anemia", ["Hypertension"])
    assert problem is not None and why in problem


def test_a_rationale_citing_another_drugs_evidence_fails() -> None:
    text = "Folic acid treats anemia [E1]; cyanocobalamin is weaker [E4]."
    problem = rationale_problem(text, "Folic acid", OTHERS, "Anemia", [], cited=["E1", "E2"])
    assert problem == "it cites E4, not evidence it gives for Folic acid"
    assert rationale_problem(text, "Folic acid", OTHERS, "Anemia", [], cited=["E1", "E4"]) is None
    assert rationale_problem(text, "Folic acid", OTHERS, "Anemia", []) is None  # not checked


def test_a_rationale_naming_an_identifier_that_is_not_its_drugs_or_conditions_fails() -> None:
    # seen: "Calcitriol treats Kidney Failure, Chronic (MESH:D010406)", the allergy's id
    text = "Folic acid treats Anemia (MESH:D010406) [E1]."
    ids = {"DB00158", "MESH:D000740"}
    problem = rationale_problem(text, "Folic acid", OTHERS, "Anemia", [], ids=ids)
    assert problem is not None and "MESH:D010406" in problem
    right = "Folic acid (DB00158) treats Anemia (MESH:D000740) [E1]."
    assert rationale_problem(right, "Folic acid", OTHERS, "Anemia", [], ids=ids) is None
    assert rationale_problem(text, "Folic acid", OTHERS, "Anemia", []) is None  # not checked
    assert entity_ids("DOID:9352, DB00331 and MESH:D003924; E12 is not one") == {
        "DOID:9352", "DB00331", "MESH:D003924"}  # fmt: skip
    # seen (Febuxostat for gout, citing two graph items): references it was never given
    made_up = "Febuxostat treats Gout, reported in PMID:26784147 [E1]; reported in NCT006073."
    problem = rationale_problem(made_up, "Febuxostat", [], "Gout", [], ids={"DB04854"})
    assert problem is not None and "NCT006073, PMID:26784147" in problem
    given = {"DB04854", "PMID:26784147", "NCT006073"}
    assert rationale_problem(made_up, "Febuxostat", [], "Gout", [], ids=given) is None


def test_a_rationale_naming_what_it_was_never_shown_fails() -> None:
    # seen (Febuxostat for gout, confidence 0.99): an invented name and a stray "NN"
    evidence = (
        "Febuxostat treats Gout (DRUGBANK::treats::Compound:Disease). Febuxostat has 2 known "
        "indication(s) for other diseases, none related to Gout in MeSH (e.g. Hyperuricemia)."
    )
    shown = words(f"{evidence} Febuxostat Allopurinol Gout")
    invented = (
        "Febuxostat treats Gout (DRUGBANK::treats::Compound:Disease). Febuxostat has 2 known "
        "indication(s), none related to Gout (e.g. Hyperuricemia), Ranxon. It is listed; NN [E18]"
    )
    problem = rationale_problem(invented, "Febuxostat", [], "Gout", [], shown=shown)
    assert problem == "it names Ranxon, NN, found nowhere in the evidence"
    assert unknown_names(invented, shown) == ["Ranxon", "NN"]
    # Sentence openers and anything shown (any case) are fine.
    fine = (
        "Febuxostat treats gout, as DRUGBANK lists. However it is weaker. Both "
        "treat Gout; Allopurinol also [E1]. The hyperuricemia indication helps."
    )
    assert rationale_problem(fine, "Febuxostat", [], "Gout", [], shown=shown) is None
    assert rationale_problem(invented, "Febuxostat", [], "Gout", []) is None  # not checked


def test_passing_rationales() -> None:
    for text in (
        "Folic acid is the best-supported candidate for Anemia.",
        "Folic acid treats megaloblastic anemia (E1), a form of anemia.",
        "Folic acid replaces the folate the patient lacks; cyanocobalamin is weaker here.",
    ):
        assert rationale_problem(text, "Folic acid", OTHERS, "Anemia", ["Hypertension"]) is None


def test_a_failed_rationale_is_replaced_by_a_marked_summary_at_low_confidence() -> None:
    task = ReasoningTask(
        patient=PatientView(
            conditions=[
                EntityRef(id="MESH:D000740", name="Anemia"),
                EntityRef(id="MESH:D006973", name="Hypertension"),
            ]
        ),
        candidates=[
            Candidate(id="DB00158", name="Folic acid", condition="MESH:D000740"),
            Candidate(id="DB00001", name="Azacitidine", condition="MESH:D000740"),
        ],
        evidence=[
            Evidence(id="E1", kind="kg", text="Folic acid treats Anemia.", drugs=["DB00158"],
                     priority=3.0),
        ],
    )  # fmt: skip
    bad = '"DB00158", "rationale": "Folic acid is the best-supported candidate for ' \
        'Azacitidine.", "evidence": ["E1"]}], "confidence": 0.9}'  # fmt: skip
    rec = recommendation_from_text(ANSWER_PREFIX + bad, task)
    (choice,) = rec.choices
    assert choice.templated and choice.grounded and choice.evidence_ids == ["E1"]
    assert "candidate for Azacitidine" not in choice.rationale
    assert "Folic acid treats Anemia." in choice.rationale
    assert choice.rationale.startswith("Evidence summary for Folic acid (templated")
    assert rec.confidence <= 0.3  # never shown with a high confidence
    good = bad.replace("is the best-supported candidate for Azacitidine", "treats anemia")
    rec = recommendation_from_text(ANSWER_PREFIX + good, task)
    assert not rec.choices[0].templated and rec.confidence == 0.9
    assert rec.choices[0].rationale == "Folic acid treats anemia."
    # A label the model puts before its text is not shown twice ("Folic acid: Folic acid ...").
    labelled = good.replace('"Folic acid treats', '"Folic acid:  Folic acid treats')
    rec = recommendation_from_text(ANSWER_PREFIX + labelled, task)
    assert rec.choices[0].rationale == "Folic acid treats anemia."


def _anemia_task() -> ReasoningTask:
    return ReasoningTask(
        patient=PatientView(conditions=[EntityRef(id="MESH:D000740", name="Anemia")]),
        candidates=[
            Candidate(id="DB00158", name="Folic acid", condition="MESH:D000740"),
            Candidate(id="DB00115", name="Cyanocobalamin", condition="MESH:D000740"),
        ],
        evidence=[
            Evidence(id="E1", kind="kg", text="Folic acid treats Anemia.", drugs=["DB00158"],
                     priority=3.0),
            Evidence(id="E2", kind="kg", text="Folic acid: ATC B03BB.", drugs=["DB00158"],
                     priority=0.5),
            Evidence(id="E3", kind="kg", text="Cyanocobalamin treats Anemia.",
                     drugs=["DB00115"], priority=3.0),
        ],
    )  # fmt: skip


def _answer(rationale: str, evidence: str = '"E1"') -> str:
    body = f'"DB00158", "rationale": "{rationale}", "evidence": [{evidence}]}}], '
    return ANSWER_PREFIX + body + '"confidence": 0.9}'


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # the answer's length cap cut the last sentence: the whole ones are shown
        (
            "Folic acid treats anemia [E1]. Its class is ATC B03BB (E2",
            "Folic acid treats anemia [E1].",
        ),
        (
            "Folic acid treats anemia [E1]. Cyanocobalamin is weaker: less of the",
            "Folic acid treats anemia [E1].",
        ),
        # nothing whole before the cut, or a whole sentence failing the gate: a summary
        ("Folic acid treats anemia (see E1", None),
        ("It treats anemia [E1]. Folic acid is in class (ATC B03", None),
    ],
)
def test_a_last_sentence_cut_off_by_the_length_cap_is_dropped(text: str, shown: str | None) -> None:
    rec = recommendation_from_text(_answer(text), _anemia_task())
    (choice,) = rec.choices
    if shown is None:
        assert choice.templated and "cut off" in choice.rationale
    else:
        assert not choice.templated and choice.rationale == shown


def test_relation_names_copied_from_the_evidence_are_not_shown() -> None:
    relation = "(DRUGBANK::treats::Compound:Disease)"
    task = _anemia_task()
    task.evidence[0].text = f"Folic acid treats Anemia {relation}."  # as the graph items read
    rec = recommendation_from_text(_answer(f"Folic acid treats Anemia {relation} [E1]."), task)
    assert rec.choices[0].rationale == "Folic acid treats Anemia [E1]."


def test_an_id_the_text_cites_but_the_list_forgot_is_kept_if_about_the_drug() -> None:
    rec = recommendation_from_text(
        _answer("Folic acid treats anemia [E1]; ATC B03BB [E2]."), _anemia_task()
    )
    assert not rec.choices[0].templated and rec.choices[0].evidence_ids == ["E1", "E2"]
    other = _answer("Folic acid treats anemia [E1]; cyanocobalamin too [E3].")
    rec = recommendation_from_text(other, _anemia_task())
    assert rec.choices[0].templated and "cites E3" in rec.choices[0].rationale


def test_templated_rationale_uses_the_strongest_items() -> None:
    items = [
        Evidence(id="E1", kind="literature", text="A passage.", drugs=["D"], priority=1.2),
        Evidence(id="E2", kind="kg", text="D treats X.", drugs=["D"], priority=3.0),
    ]
    text = templated_rationale("D", items, "it repeats a sentence")
    assert text.index("D treats X.") < text.index("A passage.")


def test_a_templated_summary_says_what_the_drug_is_listed_for_how_it_acts_and_its_class() -> None:
    def item(n: int, topic: Topic, text: str, priority: float) -> Evidence:
        kind: Literal["kg", "literature"] = "literature" if topic == "literature" else "kg"
        return Evidence(id=f"E{n}", kind=kind, text=text, drugs=["D"], priority=priority,
                        topic=topic)  # fmt: skip

    items = [
        item(1, "indication", "D treats X (DrugBank).", 3.0),
        item(2, "indication", "D CtD X (Hetionet).", 3.0),  # the same fact again
        item(3, "mechanism", "D decreases activity of G; G is associated with X.", 2.8),
        item(4, "related", "D is indicated for Y, related to X.", 2.9),
        item(5, "literature", "A passage.", 1.9),
        item(6, "class", "D: pharmacologic class C (FDA EPC).", 0.5),
    ]
    facts = evidence_facts(items)
    assert facts == (
        "D treats X (DrugBank). D decreases activity of G; G is associated with X. "
        "D: pharmacologic class C (FDA EPC)."
    )
    # Without an indication or a mechanism, the related indication and a passage say why.
    assert evidence_facts([items[3], items[4], items[5]]) == (
        "D: pharmacologic class C (FDA EPC). D is indicated for Y, related to X. A passage."
    )
