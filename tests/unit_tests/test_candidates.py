"""Candidate generation: every indicated drug is considered, and no order comes from names."""

from __future__ import annotations

from typing import Any

from kedrec_agent.kg.evidence import candidate_order, gather_evidence
from kedrec_agent.kg.hierarchy import EMPTY, DiseaseHierarchy
from kedrec_agent.kg.models import DrugIndication, Edge, Entity, MechanismCandidate
from kedrec_agent.linking.diseases import DiseaseEquivalences

DISEASE = "MESH:D003924"
TREATS, CTD = "DRUGBANK::treats::Compound:Disease", "Hetionet::CtD::Compound:Disease"


def _indication(
    drug: str, disease: str, label: str | None = None, *, relation: str = TREATS, name: str = ""
) -> DrugIndication:
    return DrugIndication(
        drug=Entity(id=f"Compound::{drug}", label=name or drug),
        disease=Entity(id=f"Disease::{disease}", label=label),
        relation=relation,
        category="treats",
        edges=[Edge(head=f"Compound::{drug}", relation=relation, tail=f"Disease::{disease}")],
    )


class StubGraph:
    """A graph answering the queries candidate generation makes, from fixed rows."""

    def __init__(
        self,
        indications: dict[str, tuple[str, list[str]]],
        mechanism: list[str],
        hierarchy: DiseaseHierarchy = EMPTY,
        elsewhere: dict[str, tuple[str, str | None]] | None = None,
    ):
        self.indications = indications  # drug id -> (label, relations)
        self.mechanism = mechanism
        self.path_queries: list[str] = []
        self.hierarchy = hierarchy
        self.equivalences = DiseaseEquivalences.from_pairs([])
        self.elsewhere = elsewhere or {}  # drug id -> (disease, its label): other indications

    def drugs_for_disease(self, disease: str) -> list[DrugIndication]:
        return [
            _indication(d, disease, relation=rel, name=label)
            for d, (label, rels) in self.indications.items()
            for rel in rels
        ]

    def drug_indications(self, drug: str) -> list[DrugIndication]:
        if drug not in self.elsewhere:
            return []
        disease, label = self.elsewhere[drug]
        return [_indication(drug, disease, label)]

    def drugs_targeting_disease_genes(self, disease: str, limit: int) -> list[MechanismCandidate]:
        return [
            MechanismCandidate(drug=Entity(id=f"Compound::{d}", label=d), shared_genes=2)
            for d in self.mechanism[:limit]
        ]

    def mechanism_paths(self, drug: str, disease: str, limit: int) -> list[Any]:
        self.path_queries.append(drug)
        return []

    def related_indications(self, drug: str, disease: str) -> list[Any]:
        return []

    def interactions_among(self, drugs: list[str]) -> list[Any]:
        return []


def _ids(graph: StubGraph, **kwargs: Any) -> list[str]:
    evidence = gather_evidence(graph, [DISEASE], kwargs.pop("meds", []), **kwargs)  # type: ignore[arg-type]
    return [c.drug.local_id for c in evidence.candidates]


def test_every_indicated_drug_is_considered_and_names_never_order() -> None:
    # 30 drugs with one source each, listed alphabetically; the established one comes last.
    many = {f"DB{n:05d}": (f"Aaa drug {n}", [TREATS]) for n in range(1, 31)}
    many["DB00331"] = ("Metformin", [TREATS, CTD])
    graph = StubGraph(many, mechanism=["DB09999"])
    assert _ids(graph, top_k=3)[0] == "DB00331"  # two sources beat one, whatever the name
    mentions = {DISEASE: {"DB00030": 40, "DB00025": 3}}
    top = _ids(graph, top_k=3, mentions=mentions)
    assert top[:3] == ["DB00331", "DB00030", "DB00025"]  # then literature co-mentions
    renamed = StubGraph({d: (f"Zz {label}", rels) for d, (label, rels) in many.items()}, [])
    assert _ids(renamed, top_k=3, mentions=mentions) == top  # labels play no part
    assert len(graph.path_queries) <= 2 * 3 * 2  # paths only for the shortlists


def test_drugs_set_aside_do_not_take_a_safe_options_place() -> None:
    many = {f"DB{n:05d}": (f"Drug {n}", [TREATS]) for n in range(1, 7)}
    many["DB00331"] = ("Metformin", [TREATS, CTD])
    graph = StubGraph(many, mechanism=[])
    assert _ids(graph, top_k=2) == ["DB00331", "DB00001"]
    aside = {"DB00331", "DB00001", "DB00002"}.__contains__  # e.g. contraindicated in pregnancy
    assert _ids(graph, top_k=2, set_aside=aside) == [
        "DB00331",
        "DB00001",
        "DB00003",
        "DB00004",
    ]  # fmt: skip: two safe ones, and no more set-aside ones than that
    assert _ids(graph, top_k=2, set_aside=lambda d: True) == ["DB00331", "DB00001"]


def test_a_preferred_indicated_drug_goes_first_and_a_preferred_mechanism_one_does_not() -> None:
    graph = StubGraph(
        {"DB00331": ("Metformin", [TREATS, CTD]), "DB00047": ("Insulin glargine", [TREATS])},
        mechanism=["DB09999"],
    )
    assert _ids(graph, top_k=3) == ["DB00331", "DB00047", "DB09999"]
    wanted = {"DB00047", "DB09999"}
    preferred = _ids(graph, top_k=3, preferred=lambda drug, condition: drug in wanted)
    assert preferred == ["DB00047", "DB00331", "DB09999"]  # insulin in pregnancy


def test_mechanism_candidates_join_and_a_treating_medication_is_kept() -> None:
    graph = StubGraph({"DB00331": ("Metformin", [TREATS]), "DB01016": ("Glibenclamide", [TREATS])},
                      mechanism=["DB09999"])  # fmt: skip
    assert _ids(graph, top_k=5) == ["DB00331", "DB01016", "DB09999"]  # indications first
    kept = gather_evidence(graph, [DISEASE], ["DB01016"], top_k=1)  # type: ignore[arg-type]
    assert [(c.drug.local_id, c.already_taking) for c in kept.candidates] == [
        ("DB00331", False),
        ("DB01016", True),  # beyond top_k, but it tells that the condition is treated
    ]


def test_a_medication_for_a_kind_of_the_condition_treats_it() -> None:
    anaemia, iron_deficiency, neoplasms = "MESH:D000740", "MESH:D018798", "MESH:D009369"
    tree = DiseaseHierarchy(
        {
            anaemia: ["C15.378.071"],
            iron_deficiency: ["C15.378.071.141"],
            neoplasms: ["C04"],
            "MESH:D006402": ["C15.378"],  # hematologic diseases, broader than anaemia
        },
        {},
    )
    elsewhere: dict[str, tuple[str, str | None]] = {
        "DB13257": (iron_deficiency, None),
        "DB00001": (neoplasms, None),
        "DB00003": ("MESH:D006402", None),
    }
    graph: Any = StubGraph({"DB00016": ("Erythropoietin", [TREATS])}, [], tree, elsewhere)
    evidence = gather_evidence(graph, [anaemia], ["DB13257", "DB00001", "DB00002", "DB00003"])
    assert evidence.treated() == {anaemia: ["DB13257"]}
    assert [c.drug.local_id for c in evidence.candidates if not c.already_taking] == ["DB00016"]


def test_a_condition_without_a_tree_number_falls_back_on_its_name() -> None:
    essential = "MESH:D000075222"  # newer than the bundle's MeSH trees
    tree = DiseaseHierarchy({"MESH:D006973": ["C14.907.489"]}, {})
    elsewhere: dict[str, tuple[str, str | None]] = {
        "DB00999": ("MESH:D006973", "Hypertension"),
        "DB00001": ("MESH:D1", "Tension"),
    }
    graph: Any = StubGraph({}, [], tree, elsewhere)
    names = {essential: "essential hypertension"}
    evidence = gather_evidence(graph, [essential], ["DB00999", "DB00001"], names=names)
    assert evidence.treated() == {essential: ["DB00999"]}  # "tension" is no whole-word ending
    assert gather_evidence(graph, [essential], ["DB00999"]).treated() == {}  # no name, no guess


def test_an_approved_drug_in_established_use_comes_before_a_supplement() -> None:
    class Elsewhere(StubGraph):
        def related_indications(self, drug: str, disease: str) -> list[Any]:
            return [] if drug == "DB00368" else [None] * 17  # only counted here

    rows = {"DB08842": ("Acetylcarnitine", [TREATS]), "DB00368": ("Norepinephrine", [TREATS])}
    graph = Elsewhere(rows, [])
    assert _ids(graph)[0] == "DB08842"  # more indications elsewhere, without an FDA class
    assert _ids(graph, established={"DB00368"})[0] == "DB00368"


class TwoConditionGraph(StubGraph):
    """Different indicated drugs per disease: disease -> drug id -> (label, relations)."""

    def __init__(
        self, by_disease: dict[str, dict[str, tuple[str, list[str]]]], mechanism: list[str]
    ):
        super().__init__({}, mechanism)
        self.by_disease = by_disease

    def drugs_for_disease(self, disease: str) -> list[DrugIndication]:
        return [
            _indication(d, disease, relation=rel, name=label)
            for d, (label, rels) in self.by_disease.get(disease, {}).items()
            for rel in rels
        ]


def test_a_drug_for_two_of_the_patients_problems_goes_first_among_equals() -> None:
    ckd = "MESH:D007676"
    graph = TwoConditionGraph(
        {
            DISEASE: {
                "DB00331": ("Metformin", [TREATS, CTD]),
                "DB08882": ("Linagliptin", [TREATS, CTD]),
                "DB08907": ("Canagliflozin", [TREATS]),
            },
            ckd: {"DB00136": ("Calcitriol", [TREATS, CTD]), "DB08907": ("Canagliflozin", [TREATS])},
        },
        mechanism=["DB00331"],  # metformin, not indicated for CKD, among its mechanism drugs
    )
    evidence = gather_evidence(graph, [DISEASE, ckd], [], top_k=5)  # type: ignore[arg-type]
    order = {cond: [c.drug.local_id for c in evidence.candidates if c.condition == cond]
             for cond in (DISEASE, ckd)}  # fmt: skip
    # Each drug is kept for the condition where it ranks best on its own: canagliflozin
    # (third of diabetes's, second of CKD's), for CKD; metformin for diabetes.
    assert order == {DISEASE: ["DB00331", "DB08882"], ckd: ["DB08907", "DB00136"]}
    # There, its one source and the other problem count as two: first among equals.
    (cana,) = [c for c in evidence.candidates if c.drug.local_id == "DB08907"]
    assert cana.also_treats == [DISEASE]
    # An unusual drug for the condition gets no such help (irbesartan, an antihypertensive
    # DrugBank and Hetionet list for diabetes, for a diabetic with hypertension).
    only: Any = TwoConditionGraph({DISEASE: {"DB01029": ("Irbesartan", [TREATS, CTD])}}, [])
    irbesartan = gather_evidence(only, [DISEASE], []).candidates[0]
    irbesartan.also_treats, irbesartan.typical = ["MESH:D006973"], False
    metformin = next(c for c in evidence.candidates if c.drug.local_id == "DB00331")
    assert sorted([irbesartan, metformin], key=candidate_order) == [metformin, irbesartan]
    # A drug without an ATC code, where the condition's other drugs share a group, earns
    # no credit for a second problem: DrugBank lists lasmiditan, a migraine drug, as
    # treating epilepsy beside a dozen antiepileptics. An antiepileptic keeps it (topiramate).
    epilepsy, migraine = "MESH:D004827", "MESH:D008881"
    aeds = {f"DB9{n:04d}": (f"Antiepileptic {n}", [TREATS, CTD]) for n in range(9)}
    noisy = TwoConditionGraph(
        {
            epilepsy: {
                **aeds,
                "DB11732": ("Lasmiditan", [TREATS]),
                "DB00273": ("Topiramate", [CTD]),
                "DB00669": ("Sumatriptan", [TREATS]),
            },
            migraine: {
                "DB00669": ("Sumatriptan", [TREATS, CTD]),
                "DB11732": ("Lasmiditan", [TREATS]),
                "DB00273": ("Topiramate", [TREATS, CTD]),
            },
        },
        mechanism=[],
    )
    atc = {d: {"N03"} for d in aeds} | {"DB00273": {"N03"}, "DB00669": {"N02"}}
    found = gather_evidence(
        noisy,  # type: ignore[arg-type]
        [epilepsy, migraine],
        [],
        top_k=20,
        groups=lambda d: atc.get(d, set()),
    )
    by_id = {c.drug.local_id: c for c in found.candidates}
    # Each is kept for migraine, where it ranks better on its own.
    assert {by_id[d].condition for d in ("DB11732", "DB00273", "DB00669")} == {migraine}
    assert by_id["DB11732"].also_treats == [] and by_id["DB00273"].also_treats == [epilepsy]
    # Nor does a drug of a group unusual there: a triptan among the antiepileptics.
    assert by_id["DB00669"].also_treats == []
    # A drug indicated for one condition is not proposed for another on its mechanism.
    other = TwoConditionGraph({DISEASE: graph.by_disease[DISEASE]}, mechanism=["DB08907"])
    found = gather_evidence(other, [DISEASE, ckd], [], top_k=5)  # type: ignore[arg-type]
    pairs = [(c.condition, c.drug.local_id) for c in found.candidates]
    assert (DISEASE, "DB08907") in pairs and (ckd, "DB08907") not in pairs
    one = gather_evidence(graph, [DISEASE, ckd], [], top_k=1)  # type: ignore[arg-type]
    assert [(c.condition, c.drug.local_id) for c in one.candidates] == [
        (DISEASE, "DB00331"),
        (ckd, "DB08907"),
    ]
    # A problem a current medication already treats earns no second-problem credit: with
    # metformin taken for diabetes, canagliflozin is one source among CKD's two-source drugs.
    treated = gather_evidence(graph, [DISEASE, ckd], ["DB00331"], top_k=5)  # type: ignore[arg-type]
    (cana,) = [c for c in treated.candidates if c.drug.local_id == "DB08907"]
    assert cana.condition == ckd and cana.also_treats == []
    assert [c.drug.local_id for c in treated.candidates if c.condition == ckd] == [
        "DB00136",
        "DB08907",
    ]
    # With type 2 diabetes alone, the two-source drugs go first.
    alone = gather_evidence(graph, [DISEASE], [], top_k=5)  # type: ignore[arg-type]
    assert alone.candidates[-1].drug.local_id == "DB08907"
    assert all(not c.also_treats for c in alone.candidates)
