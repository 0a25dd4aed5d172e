"""The learned ranker in the agent: probabilities, order, confidence, passages about the pair."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from kedrec_agent.agent.candidates import adjunct_class, usable_candidates
from kedrec_agent.agent.evidence import pair_passages
from kedrec_agent.agent.scoring import MAX_PROBABILITY, rank_candidates
from kedrec_agent.kg.evidence import CandidateDrug, KGEvidence, candidate_order, mark_typical
from kedrec_agent.kg.models import Edge, Entity
from kedrec_agent.literature.search import Hit
from kedrec_agent.ranking import load_ranker
from kedrec_agent.ranking.tables import DrugTables
from kedrec_agent.reasoning.output import (
    UNGROUNDED_CONFIDENCE,
    recommendation_from_text,
    with_alternatives,
)
from kedrec_agent.reasoning.problems import recommend_per_condition
from kedrec_agent.reasoning.prompts import build_messages
from kedrec_agent.reasoning.ranking import ranked_candidates
from kedrec_agent.reasoning.schema import (
    Candidate,
    Choice,
    EntityRef,
    Evidence,
    PatientView,
    ReasoningTask,
    Recommendation,
)
from kedrec_agent.safety.classes import DrugClasses
from kedrec_agent.safety.crossreactivity import (
    PENICILLINS,
    SULFONAMIDES,
    allergens,
    cross_reactivity,
)

DISEASE = "MESH:D003924"
TREATS = "DRUGBANK::treats::Compound:Disease"


def _cand(drug: str, indicated: bool, mentions: int = 0, other: int = 0) -> CandidateDrug:
    entity = Entity(id=f"Compound::{drug}", label=drug)
    edges = [Edge(head=entity.id, relation=TREATS, tail=f"Disease::{DISEASE}")] if indicated else []
    return CandidateDrug(
        drug=entity,
        condition=DISEASE,
        via="indication" if indicated else "mechanism",
        edges=edges,
        mentions=mentions,
        other_indications=other,
    )


def _rank(candidates: list[CandidateDrug]) -> dict[str, float]:
    evidence = KGEvidence(candidates=candidates, interactions=[])
    found = rank_candidates(load_ranker(), evidence, {}, None, DrugTables(), None)
    return found[DISEASE]


def test_an_indicated_drug_is_scored_against_the_unindicated_ones_only() -> None:
    probs = _rank([_cand("DB1", True), _cand("DB2", False, 3, 5), _cand("DB3", False, 1, 1)])
    assert probs["DB1"] > 0.5
    # The unindicated ones share one softmax among themselves (the repurposing question).
    assert abs(probs["DB2"] + probs["DB3"] - 1.0) < 1e-3 and probs["DB2"] > probs["DB3"]
    # Several indicated drugs are not split against each other; alone, never certain.
    both = _rank([_cand("DB1", True, 9), _cand("DB4", True, 1)])
    assert both == {"DB1": MAX_PROBABILITY, "DB4": MAX_PROBABILITY}


def test_an_unusual_therapeutic_group_goes_behind_the_conditions_usual_ones() -> None:
    # Pneumonia-like: nine antibacterials, two antiprotozoals, a JAK inhibitor, one uncoded.
    groups = {f"DB{n}": {"J01"} for n in range(1, 10)}
    groups |= {"DB10": {"P01"}, "DB11": {"P01"}, "DB12": {"L04"}, "DB13": set()}
    cands = [_cand(d, True) for d in groups]
    mark_typical(cands, lambda d: groups[d])
    atypical = {c.drug.local_id for c in cands if c.typical is False}
    assert atypical == {"DB10", "DB11", "DB12"}
    # The uncoded one is unknown, not unusual: it keeps its place among the typical ones.
    assert [c.typical for c in cands if c.drug.local_id == "DB13"] == [None]
    # Equally supported otherwise, the typical ones come first; the name plays no part.
    order = [c.drug.local_id for c in sorted(cands, key=candidate_order)]
    assert set(order[-3:]) == atypical
    # A drug in a typical group as well as an unusual one stays typical.
    groups["DB12"] = {"L04", "J01"}
    mark_typical(cands, lambda d: groups[d])
    assert {c.drug.local_id for c in cands if c.typical is False} == {"DB10", "DB11"}
    # Under eight coded drugs there is no consensus: nothing is marked.
    few = [_cand(d, True) for d in ("DB1", "DB2", "DB3", "DB10")]
    mark_typical(few, lambda d: groups[d])
    assert all(c.typical for c in few)


def _task(*candidates: Candidate) -> ReasoningTask:
    items = [
        Evidence(id=f"E{n}", kind="kg", text=f"{c.name} evidence", drugs=[c.id], priority=3.0)
        for n, c in enumerate(candidates, start=1)
    ]
    return ReasoningTask(
        patient=PatientView(conditions=[EntityRef(id=DISEASE, name="Type 2 diabetes")]),
        candidates=list(candidates),
        evidence=items,
        max_choices=2,
    )


def test_indicated_drugs_come_first_in_clinical_order_then_the_ranker_decides() -> None:
    task = _task(
        Candidate(id="DB5", name="E", rank=4, probability=0.7),
        Candidate(id="DB2", name="B", rank=1, indicated=True, probability=0.6),
        Candidate(id="DB1", name="A", rank=0, indicated=True, probability=0.9),
        Candidate(id="DB4", name="D", rank=3, probability=0.3),
    )
    assert [c.id for c in ranked_candidates(task)] == ["DB1", "DB2", "DB5", "DB4"]
    # A major interaction goes behind a similarly supported safe alternative.
    task.candidates[2].interaction = "major"  # DB1
    assert [c.id for c in ranked_candidates(task)] == ["DB2", "DB1", "DB5", "DB4"]
    user = build_messages(task, lambda s: len(s.split()), 10_000)[0][1]["content"]
    assert "- DB2: B — ranker 0.60, evidence E2" in user
    assert "listed by the ranker's probability" in user


def _answer(*choices: tuple[str, list[str]], confidence: float = 0.95) -> str:
    body = [{"drug": d, "rationale": f"{d} is indicated (E1).", "evidence": e} for d, e in choices]
    return json.dumps({"choices": body, "confidence": confidence})


def test_confidence_is_the_rankers_not_the_models_self_report() -> None:
    task = _task(
        Candidate(id="DB1", name="A", probability=0.8),
        Candidate(id="DB2", name="B", probability=0.2),
    )
    rec = recommendation_from_text(
        json.dumps(
            {
                "choices": [
                    {"drug": "DB1", "rationale": "A is indicated (E1).", "evidence": ["E1"]}
                ],
                "confidence": 0.1,
            }
        ),
        task,
    )
    assert rec.confidence == 0.8 and not rec.fallback
    # A departure that cites nothing goes behind the choice the model grounded.
    rec = recommendation_from_text(
        json.dumps(
            {
                "choices": [
                    {"drug": "DB2", "rationale": "B.", "evidence": []},
                    {"drug": "DB1", "rationale": "A is indicated (E1).", "evidence": ["E1"]},
                ]
            }
        ),
        task,
    )
    assert [c.drug_id for c in rec.choices] == ["DB1", "DB2"] and rec.confidence == 0.8
    # Without the model's grounded text the answer is never confident.
    rec = recommendation_from_text(
        json.dumps({"choices": [{"drug": "DB1", "rationale": "A.", "evidence": []}]}), task
    )
    assert rec.confidence == UNGROUNDED_CONFIDENCE


def _hit(drugs: list[str], diseases: list[str]) -> Hit:
    return Hit(source="pubmed", external_id="1", chunk=0, title="T", snippet="S", score=0.5,
               why=[], drugs=drugs, diseases=diseases)  # fmt: skip


def test_a_passage_is_shown_only_if_it_names_the_drug_and_its_condition() -> None:
    evidence = KGEvidence(candidates=[_cand("DB1", True)], interactions=[])
    both, equivalent = _hit(["DB1"], [DISEASE]), _hit(["DB1"], ["DOID:9352"])
    hits = {"DB1": [_hit(["DB1"], []), _hit(["DB1"], ["MESH:D006973"]), both, equivalent,
                    _hit(["DB9"], [DISEASE])]}  # fmt: skip
    same = {("DOID:9352", DISEASE)}
    kept = pair_passages(hits, evidence, lambda a, b: a == b or (a, b) in same)
    assert kept == {"DB1": [both, equivalent]}


def test_probabilities_are_finite_for_any_group_size() -> None:
    for size in (1, 2, 7):
        probs = _rank([_cand(f"DB{i}", False, i, i) for i in range(size)])
        values = np.array(list(probs.values()))
        assert np.isfinite(values).all() and abs(values.sum() - 1) < 0.02 * size


# --- what goes before the model, and what goes behind ------------------------------------


def test_an_adjunct_is_not_proposed_on_its_own() -> None:
    tables = DrugTables.from_rows([("DB00766", "EPC:N0000175930"), ("DB01060", "ATC:J01CA")])
    evidence = KGEvidence(
        candidates=[_cand("DB00766", True), _cand("DB01060", True)], interactions=[]
    )
    usable = usable_candidates(evidence, [], lambda i: None, DrugClasses({}, {}, {}), tables)
    assert [c.drug.local_id for c in usable.evidence.candidates] == ["DB01060"]
    assert usable.notes == [
        "DB00766 was not proposed: a beta-lactamase inhibitor, given only with a partner drug."
    ]
    assert adjunct_class("DB01060", tables) is None
    decarboxylation = "EPC:N0000175754"  # DrugCentral files levodopa here, beside carbidopa
    tables = DrugTables.from_rows(
        [
            ("DB00190", decarboxylation),
            ("DB01235", decarboxylation),
            ("DB01235", "ATC:N04BA"),
            ("DB01606", "EPC:N0000175930"),
            ("DB01606", "ATC:J01CG"),
        ]
    )
    assert adjunct_class("DB00190", tables) is not None  # carbidopa
    assert adjunct_class("DB01235", tables) is None  # levodopa has a use of its own
    assert adjunct_class("DB01606", tables) is not None  # tazobactam: J01CG is the adjunct group


def test_a_cephalosporin_for_a_penicillin_allergy_is_a_caution_not_a_veto() -> None:
    tables = DrugTables.from_rows(
        [("DB00438", "ATC:J01DD"), ("DB01060", "ATC:J01CA"), ("DB00537", "ATC:J01MA")]
    )
    classes = DrugClasses({}, {}, {})
    names = {"DB01060": "Amoxicillin", PENICILLINS: "Penicillins"}
    for allergy in ([PENICILLINS], ["DB01060"]):
        found = allergens(allergy, names.get, classes, tables)
        assert list(found.values()) in (["Penicillins"], ["Amoxicillin"])
        message = cross_reactivity("DB00438", "Ceftazidime", found, tables)
        assert message and "cephalosporin" in message and "uncommon" in message
        assert cross_reactivity("DB00537", "Ciprofloxacin", found, tables) is None
    assert allergens(["DB00537"], names.get, classes, tables) == {}


def test_a_sulfonylurea_for_a_sulfonamide_allergy_is_a_caution() -> None:
    # seen: glimepiride offered for type 2 diabetes to a patient "allergic to sulfa drugs"
    # with no word of it (its label lists a sulfonamide allergy as a contraindication)
    tables = DrugTables.from_rows(
        [("DB00222", "ATC:A10BB"), ("DB00999", "ATC:C03AA"), ("DB01015", "ATC:J01EC"),
         ("DB00331", "ATC:A10BA"), ("DB00438", "ATC:J01DD")]
    )  # fmt: skip
    classes = DrugClasses({}, {}, {})
    names = {SULFONAMIDES: "Sulfonamides", "DB01015": "Sulfamethoxazole"}
    for allergy in ([SULFONAMIDES], ["DB01015"]):
        found = allergens(allergy, names.get, classes, tables)
        message = cross_reactivity("DB00222", "Glimepiride", found, tables)
        assert message and "sulfonylurea" in message and "contraindication" in message
        assert "thiazide" in (
            cross_reactivity("DB00999", "Hydrochlorothiazide", found, tables) or ""
        )
        assert cross_reactivity("DB00331", "Metformin", found, tables) is None
        assert cross_reactivity("DB00438", "Ceftazidime", found, tables) is None  # no penicillin
    both = allergens([SULFONAMIDES, PENICILLINS], {**names, PENICILLINS: "Penicillins"}.get,
                     classes, tables)  # fmt: skip
    assert len(both) == 2 and "cephalosporin" in (
        cross_reactivity("DB00438", "Ceftazidime", both, tables) or ""
    )


def test_a_non_antibiotic_sulfonamide_for_a_sulfa_allergy_is_cross_reactive() -> None:
    # seen: furosemide and hydrochlorothiazide withheld for a "sulfa" allergy as members of
    # MeSH's Sulfonamides; the bundle's ATC table lacks both (hydrochlorothiazide has an EPC)
    tables = DrugTables.from_rows([("DB00999", "EPC:N0000175419"), ("DB00359", "EPC:N0000175503")])
    tree = {SULFONAMIDES: ["D02.886.590"], "MESH:D005665": ["D02.886.590.300"],
            "MESH:D013411": ["D02.886.590.700"], "MESH:D004976": ["D02.455"]}  # fmt: skip
    names = {"furosemide": "MESH:D005665", "sulfadiazine": "MESH:D013411",
             "ethacrynic acid": "MESH:D004976"}  # fmt: skip
    classes = DrugClasses(names, tree, {})
    found = allergens([SULFONAMIDES], {SULFONAMIDES: "Sulfonamides"}.get, classes, tables)
    furosemide = cross_reactivity("DB00695", "Furosemide", found, tables, classes)
    assert furosemide and "a non-antibiotic sulfonamide" in furosemide
    thiazide = cross_reactivity("DB00999", "Hydrochlorothiazide", found, tables, classes)
    assert thiazide and "a thiazide" in thiazide  # by its EPC class
    # the antibiotic is the allergen (withheld by the safety check), not a caution
    assert cross_reactivity("DB00359", "Sulfadiazine", found, tables, classes) is None
    assert cross_reactivity("DB00903", "Ethacrynic acid", found, tables, classes) is None
    # so the model may still choose furosemide (cautioned), never sulfadiazine
    cands = [_cand("DB00695", True), _cand("DB00359", True)]
    for cand, label in zip(cands, ("Furosemide", "Sulfadiazine"), strict=True):
        cand.drug = Entity(id=cand.drug.id, label=label)
    usable = usable_candidates(
        KGEvidence(candidates=cands, interactions=[]), [SULFONAMIDES],
        {SULFONAMIDES: "Sulfonamides"}.get, classes, tables,
    )  # fmt: skip
    assert [c.drug.local_id for c in usable.evidence.candidates] == ["DB00695"]
    assert [v.drug_id for v in usable.vetoes] == ["DB00359"]


def test_a_contraindicated_drug_is_withheld_before_the_model_and_its_condition_not_treated() -> (
    None
):
    losartan, amlodipine = _cand("DB00678", True), _cand("DB00381", True)
    taken = _cand("DB00722", True)
    taken.already_taking = True
    evidence = KGEvidence(candidates=[losartan, amlodipine, taken], interactions=[])
    assert evidence.treated() == {DISEASE: ["DB00722"]}
    evidence.replace = ["DB00722"]  # lisinopril, for a pregnant patient: to be switched
    assert evidence.treated() == {}
    usable = usable_candidates(
        evidence,
        [],
        lambda i: None,
        DrugClasses({}, {}, {}),
        DrugTables(),
        lambda drug, name: "withheld" if drug == "DB00678" else None,
    )
    assert [c.drug.local_id for c in usable.evidence.candidates] == ["DB00381"]
    assert [(v.kind, v.severity, v.drug_id) for v in usable.vetoes] == [
        ("pregnancy", "veto", "DB00678")
    ]


def test_a_major_interaction_goes_behind_a_caution_which_goes_behind_a_safe_drug() -> None:
    def cand(drug: str, rank: int, **kw: Any) -> Candidate:
        return Candidate(id=drug, name=drug, rank=rank, indicated=True, probability=0.99, **kw)

    task = _task(
        cand("MAJOR", 0, interaction="major"),
        cand("CAUTION", 1, caution="cross-reactive"),
        cand("SAFE", 2),
    )
    assert [c.id for c in ranked_candidates(task)] == ["SAFE", "CAUTION", "MAJOR"]
    task.candidates.pop()  # no safe drug: the caution still goes before the major interaction
    assert [c.id for c in ranked_candidates(task)] == ["CAUTION", "MAJOR"]


def test_a_condition_sub_task_lists_its_condition_first() -> None:
    task = _task(Candidate(id="DB1", name="A", condition=DISEASE))
    task.patient.conditions.insert(0, EntityRef(id="MESH:D006973", name="Hypertension"))
    sub, _ = task.for_condition(DISEASE)
    assert [c.id for c in sub.patient.conditions] == [DISEASE, "MESH:D006973"]


def test_a_later_condition_avoids_a_major_interaction_with_an_earlier_choice() -> None:
    other = "MESH:D006973"

    def cand(drug: str, condition: str, rank: int) -> Candidate:
        return Candidate(
            id=drug, name=drug, condition=condition, rank=rank, indicated=True, probability=0.9
        )

    task = _task(cand("FIRST", DISEASE, 0), cand("CLASHES", other, 0), cand("SAFE", other, 1))
    task.patient.conditions.append(EntityRef(id=other, name="Hypertension"))
    task.max_choices = 1

    def top(sub: ReasoningTask) -> Recommendation:  # the model takes the first listed
        best = ranked_candidates(sub)[0]
        return Recommendation(
            choices=[Choice(drug_id=best.id, drug_name=best.name, rationale="", evidence_ids=[])],
            confidence=0.9,
            fallback=False,
            prompt_version="test",
        )

    def clashes(drugs: Sequence[str], chosen: Sequence[str]) -> dict[str, str]:
        return {"CLASHES": "major"} if "CLASHES" in drugs and "FIRST" in chosen else {}

    alone = recommend_per_condition(task, top)
    together = recommend_per_condition(task, top, clashes)
    assert [c.drug_id for c in alone.choices] == ["FIRST", "CLASHES"]
    assert [c.drug_id for c in together.choices] == ["FIRST", "SAFE"]
    assert [c.condition for c in together.choices] == [DISEASE, other]
    # Asked all at once, the sub-task the first choice changes is asked again: same answer.
    asked: list[list[str | None]] = []

    def logged(sub: ReasoningTask) -> Recommendation:
        asked.append([c.interaction for c in sub.candidates])
        return top(sub)

    at_once = recommend_per_condition(task, logged, clashes, concurrent=True)
    assert at_once == together
    assert sorted(asked, key=str) == sorted([[None], [None, None], ["major", None]], key=str)
    asked.clear()
    assert recommend_per_condition(task, logged, concurrent=True) == alone and len(asked) == 2
    # An interaction that leaves the order as it was (nothing safer) asks nothing again.
    asked.clear()
    task.candidates.pop()  # no SAFE: CLASHES stays first whatever its interaction
    at_once = recommend_per_condition(task, logged, clashes, concurrent=True)
    assert [c.drug_id for c in at_once.choices] == ["FIRST", "CLASHES"] and len(asked) == 2


def test_safe_similarly_supported_alternatives_follow_the_models_choice() -> None:
    def cand(drug: str, rank: int, probability: float, **kw: Any) -> Candidate:
        indicated = probability > 0.5
        return Candidate(
            id=drug, name=drug, rank=rank, indicated=indicated, probability=probability, **kw
        )

    task = _task(
        cand("CHOSEN", 0, 0.9),
        cand("MAJOR", 1, 0.9, interaction="major"),
        cand("SAFE", 2, 0.9),
        cand("WEAK", 3, 0.2),
    )
    task.max_choices = 3
    answer = Recommendation(
        choices=[Choice(drug_id="CHOSEN", drug_name="CHOSEN", rationale="r", evidence_ids=["E1"])],
        confidence=0.9,
        fallback=False,
        prompt_version="test",
    )
    options = with_alternatives(task, answer)
    assert [c.drug_id for c in options.choices] == ["CHOSEN", "SAFE"]  # no major, no weak one
    added = options.choices[1]
    assert added.alternative and added.templated and added.evidence_ids == ["E3"]
    assert "not the model's text" in added.rationale and "SAFE evidence" in added.rationale
    assert options.confidence == answer.confidence
    abstained = answer.model_copy(update={"choices": []})
    assert with_alternatives(task, abstained).choices == []
    task.max_choices = 1
    assert [c.drug_id for c in with_alternatives(task, answer).choices] == ["CHOSEN"]


def test_a_weak_caution_goes_before_a_strong_one() -> None:
    def cand(drug: str, rank: int, **kw: Any) -> Candidate:
        return Candidate(id=drug, name=drug, rank=rank, indicated=True, probability=0.9, **kw)

    # febuxostat (boxed warning in heart failure) before allopurinol (SIDER lists "cardiac
    # failure", no frequency): the weakly cautioned drug goes first
    task = _task(
        cand("BOXED", 0, caution="boxed warning"),
        cand("LISTED", 1, caution="listed", caution_strength="weak"),
    )
    assert [c.id for c in ranked_candidates(task)] == ["LISTED", "BOXED"]
    task.candidates[0].caution = None
    assert [c.id for c in ranked_candidates(task)] == ["BOXED", "LISTED"]


def test_a_safe_alternative_goes_before_the_models_choice_to_avoid() -> None:
    def cand(drug: str, rank: int, probability: float, **kw: Any) -> Candidate:
        return Candidate(id=drug, name=drug, rank=rank, indicated=True, probability=probability,
                         **kw)  # fmt: skip

    task = _task(
        cand("SAFE", 0, 0.6),
        cand("NSAID", 1, 0.8, caution="Comorbidity caution: NSAID in heart failure"),
        cand("OTHER", 2, 0.5),
    )
    task.max_choices = 3
    answer = Recommendation(
        choices=[Choice(drug_id="NSAID", drug_name="NSAID", rationale="r", evidence_ids=["E2"])],
        confidence=0.8,
        fallback=False,
        prompt_version="test",
    )
    options = with_alternatives(task, answer)
    assert [c.drug_id for c in options.choices] == ["SAFE", "OTHER", "NSAID"]
    assert options.choices[0].rationale.startswith("Preferred to NSAID, which has a caution")
    assert options.choices[1].rationale.startswith("Preferred to NSAID")  # 0.5 >= 0.8 / 2
    # no room: the choice to avoid falls off behind the safe options; the confidence is
    # theirs, and the reason is shown in full
    task.max_choices = 1
    options = with_alternatives(task, answer)
    assert [c.drug_id for c in options.choices] == ["SAFE"] and options.confidence == 0.6
    assert "(Comorbidity caution: NSAID in heart failure)" in options.choices[0].rationale
    # a safe choice keeps its place; an unsupported alternative does not displace one to avoid
    # an option with a weak caution is less to avoid than the model's choice: it goes first
    task.candidates[0].caution, task.candidates[0].caution_strength = "listed", "weak"
    task.max_choices = 3
    options = with_alternatives(task, answer)
    assert [c.drug_id for c in options.choices] == ["OTHER", "SAFE", "NSAID"]
    task.candidates[0].caution = None
    task.candidates[0].probability = task.candidates[2].probability = 0.3
    task.max_choices = 3
    options = with_alternatives(task, answer)
    assert [c.drug_id for c in options.choices] == ["NSAID"] and options.confidence == 0.8
    task.candidates[2].probability = 0.5
    options = with_alternatives(task, answer)
    assert [c.drug_id for c in options.choices] == ["OTHER", "NSAID"]


def _classed(drug: str, rank: int, classes: list[str], **kw: Any) -> Candidate:
    """An indicated candidate with a ranker probability and pharmacologic classes."""
    return Candidate(
        id=drug, name=drug, rank=rank, indicated=True, probability=0.9, classes=classes, **kw
    )


def test_a_moderate_interaction_goes_behind_a_same_class_alternative_only() -> None:
    beta = ["EPC:beta-blocker"]
    task = _task(
        _classed("CARVEDILOL", 0, beta, interaction="moderate"),
        _classed("ENALAPRIL", 1, ["EPC:ACE inhibitor"]),
        _classed("METOPROLOL", 2, beta),
    )
    assert [c.id for c in ranked_candidates(task)] == ["METOPROLOL", "CARVEDILOL", "ENALAPRIL"]
    task.candidates.pop()  # no classmate: an established drug keeps its place
    assert [c.id for c in ranked_candidates(task)] == ["CARVEDILOL", "ENALAPRIL"]


def test_an_interaction_of_unknown_severity_goes_behind_a_same_class_alternative_without() -> None:
    beta = ["EPC:beta-blocker"]
    task = _task(
        _classed("CARVEDILOL", 0, beta, interaction="unknown"),
        _classed("ENALAPRIL", 1, ["EPC:ACE inhibitor"]),
        _classed("BISOPROLOL", 2, beta, interaction="unknown"),
        _classed("METOPROLOL", 3, beta, interaction="minor"),
    )
    assert [c.id for c in ranked_candidates(task)] == [
        "METOPROLOL", "CARVEDILOL", "ENALAPRIL", "BISOPROLOL"
    ]  # fmt: skip
    task.candidates[3].interaction = "unknown"  # no lesser classmate: the order stands
    assert [c.id for c in ranked_candidates(task)] == [
        "CARVEDILOL", "ENALAPRIL", "BISOPROLOL", "METOPROLOL"
    ]  # fmt: skip
    task.candidates[0].interaction = "moderate"  # a moderate one gives way to an unknown one
    assert ranked_candidates(task)[0].id == "BISOPROLOL"
