"""Entity linking on the real data bundle (KEDREC_DATA_DIR): names, ids, notes, timings."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kedrec_agent.config import Settings
from kedrec_agent.data.bundle import LINKING_FILES
from kedrec_agent.errors import UnknownEntityError
from kedrec_agent.linking import Linker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The real bundle, with a fresh home so that the index is built here."""
    data_dir = Settings.from_env().data_dir
    missing = [f for f in LINKING_FILES if not (data_dir / f).is_file()]
    if missing:
        pytest.skip(f"data bundle not found or incomplete at {data_dir} (missing {missing[0]})")
    return Settings(data_dir=data_dir, home=tmp_path_factory.mktemp("linking-home"))


@pytest.fixture(scope="module")
def build_seconds(settings: Settings) -> float:
    started = time.perf_counter()
    Linker.build_index(settings)
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def linker(settings: Settings, build_seconds: float) -> Linker:
    return Linker.from_settings(settings)


def test_build_and_load_times(settings: Settings, build_seconds: float) -> None:
    assert build_seconds < 15, f"index build took {build_seconds:.1f} s"
    started = time.perf_counter()
    path = Linker.build_index(settings)
    assert time.perf_counter() - started < 0.5  # current: only the stamp is read
    started = time.perf_counter()
    Linker.from_settings(settings)
    load = time.perf_counter() - started
    assert load < 2, f"index load took {load:.2f} s"
    assert path.stat().st_size > 1_000_000


def test_fuzzy_queries_are_fast(linker: Linker) -> None:
    queries = ["imatinb", "hypertenion", "chronic myelod leukemia", "xyzzy", "atorvastatn"]
    linker.candidates("warm up")
    started = time.perf_counter()
    for query in queries:
        linker.candidates(query)
    per_query = (time.perf_counter() - started) / len(queries)
    assert per_query < 0.25, f"{per_query * 1000:.0f} ms per fuzzy query"


@pytest.mark.parametrize(
    "text", ["chronic myeloid leukemia", "Chronic Myelogenous Leukaemia", "DOID:8552", "D015464"]
)
def test_cml(linker: Linker, text: str) -> None:
    entity = linker.link_disease(text)
    assert entity.canonical == "MESH:D015464"
    assert "DOID:8552" in entity.equivalents and "MESH:D015464" in entity.equivalents


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("type 2 diabetes", "MESH:D003924"),
        ("Diabetes Mellitus, Type 2", "MESH:D003924"),
        ("DOID:9352", "MESH:D003924"),
        ("hypertension", "MESH:D006973"),
        ("Parkinson's disease", "MESH:D010300"),
        ("heart attack", "MESH:D009203"),
    ],
)
def test_diseases(linker: Linker, text: str, canonical: str) -> None:
    entity = linker.link_disease(text)
    assert entity.canonical == canonical
    assert entity.score == 100.0


def test_doid_resolves_to_its_mesh_canonical(linker: Linker) -> None:
    entity = linker.link_disease("DOID:9352")
    assert entity.id == "DOID:9352"
    assert entity.canonical == "MESH:D003924"
    assert linker.disease("DOID:9352").canonical == "MESH:D003924"


@pytest.mark.parametrize(
    ("text", "drug"),
    [
        ("metformin", "DB00331"),
        ("Aspirin", "DB00945"),  # a synonym of Acetylsalicylic acid
        ("paracetamol", "DB00316"),
        ("albuterol", "DB01001"),  # not (-)-albuterol, which normalises the same
        ("Metformin HCl ER", "DB00331"),
        ("DB00619", "DB00619"),
    ],
)
def test_drugs(linker: Linker, text: str, drug: str) -> None:
    assert linker.link_drug(text).id == drug


def test_typos_link_with_a_score(linker: Linker) -> None:
    for text, drug in [("imatinb", "DB00619"), ("atorvastatn", "DB01076")]:
        entity = linker.link_drug(text)
        assert entity.id == drug and linker.accept_score <= entity.score < 100
    assert linker.link_disease("hypertenion").canonical == "MESH:D006973"


def test_icd9_titles(linker: Linker) -> None:
    diabetes = linker.link_disease("ICD9:25000")
    assert diabetes.id in {"MESH:D003920", "MESH:D003924"}
    assert "Diabetes" in diabetes.name
    assert linker.link_disease("428.0").canonical == "MESH:D006333"  # heart failure


def test_unknown_names_list_close_ones(linker: Linker) -> None:
    with pytest.raises(UnknownEntityError) as caught:
        linker.link_disease("type 3 diabetes")
    assert any("MESH:D003924" in s for s in caught.value.suggestions)
    with pytest.raises(UnknownEntityError) as caught:
        linker.link_drug("xyzzyq")
    assert caught.value.kind == "drug"


def test_a_mixed_note(linker: Linker) -> None:
    note = (
        "72 yo F with HTN, type 2 diabetes and chronic myeloid leukaemia. "
        "Meds: metformin 500 mg BID, imatinib, atorvastatin. Not on warfarin. "
        "Allergies: penicillin, sulfa. Denies asthma. Family history of breast cancer. "
        "Temp 98.6 F, glucose 180."
    )
    m = linker.extract(note)
    conditions = {c.entity.canonical: c.negated for c in m.conditions}
    assert conditions == {
        "MESH:D006973": False,
        "MESH:D003924": False,
        "MESH:D015464": False,
        "MESH:D001249": True,
    }
    medications = {d.entity.id: d.negated for d in m.medications}
    assert medications == {"DB00331": False, "DB00619": False, "DB01076": False, "DB00682": True}
    assert [a.entity.name for a in m.allergies] == ["Penicillins", "Sulfonamides"]
    assert (m.age, m.sex, m.no_known_allergies) == (72, "female", False)


def test_index_lives_in_the_cache_dir(settings: Settings, linker: Linker) -> None:
    path = Linker.build_index(settings)
    assert path.parent == settings.cache_dir
    assert Path(path).is_file()
