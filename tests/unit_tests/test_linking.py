"""Entity linking on the tiny bundle: normalisation, ids, equivalences, fuzzy, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedrec_agent.config import Settings
from kedrec_agent.errors import InvalidInputError, UnknownEntityError
from kedrec_agent.linking import Linker
from kedrec_agent.linking.normalize import normalize
from tests.conftest import FIXTURE_BUNDLE


@pytest.mark.parametrize("text", ["Imatinib", "IMATINIB", "imatinib.", "  imatinib ", "DB00619"])
def test_drug_case_punctuation_and_id(tiny_linker: Linker, text: str) -> None:
    entity = tiny_linker.link_drug(text)
    assert (entity.id, entity.kind, entity.score) == ("DB00619", "drug", 100.0)


def test_synonym_links_to_common_name(tiny_linker: Linker) -> None:
    entity = tiny_linker.link_drug("aspirin")
    assert entity.id == "DB00945"
    assert entity.name == "Acetylsalicylic acid"


def test_plural_and_inverted_mesh_names(tiny_linker: Linker) -> None:
    assert normalize("Penicillins") == normalize("penicillin")
    assert tiny_linker.link("penicillin", "substance").id == "MESH:D010406"
    assert tiny_linker.link_disease("type 2 diabetes mellitus").canonical == "MESH:D003924"
    assert tiny_linker.link_disease("Diabetes Mellitus, Type 2").canonical == "MESH:D003924"


@pytest.mark.parametrize("text", ["MESH:D015464", "D015464", "mesh:d015464", "DOID:8552"])
def test_doid_and_mesh_resolve_to_one_concept(tiny_linker: Linker, text: str) -> None:
    entity = tiny_linker.link_disease(text)
    assert entity.canonical == "MESH:D015464"
    assert set(entity.equivalents) == {"MESH:D015464", "DOID:8552"}
    assert tiny_linker.disease(text if ":" in text else f"MESH:{text}").canonical == "MESH:D015464"


def test_icd9_code_links_through_its_title(tiny_linker: Linker) -> None:
    entity = tiny_linker.link_disease("ICD9:4019")  # "Unspecified essential hypertension"
    assert entity.canonical in {"MESH:D006973", "MESH:D000075222"}
    assert "4019" in entity.matched


def test_typo_is_accepted_with_its_score(tiny_linker: Linker) -> None:
    entity = tiny_linker.link_drug("imatinb")
    assert entity.id == "DB00619"
    assert tiny_linker.accept_score <= entity.score < 100


def test_below_threshold_is_rejected_with_suggestions(tiny_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError) as caught:
        tiny_linker.link_drug("imatinibbo")
    assert caught.value.kind == "drug"
    assert any("DB00619" in s for s in caught.value.suggestions)
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease("xyzzy")


def test_wrong_kind_is_not_linked(tiny_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease("warfarin")
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_drug("DB99999")


@pytest.mark.parametrize("bad", ["", "   ", "x" * 501, None, 42])
def test_bad_input_is_a_clear_error(tiny_linker: Linker, bad: object) -> None:
    with pytest.raises(InvalidInputError):
        tiny_linker.link_drug(bad)  # type: ignore[arg-type]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(min_size=1, max_size=300).filter(lambda s: s.strip()))
def test_candidates_never_crash(tiny_linker: Linker, text: str) -> None:
    for candidate in tiny_linker.candidates(text):
        assert 0 <= candidate.score <= 100
        assert candidate.kind in {"drug", "disease", "substance"}


def test_index_cache_is_reused_and_rebuilt_when_inputs_change(tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(FIXTURE_BUNDLE, data)
    settings = Settings(data_dir=data, home=tmp_path / "home")
    path = Linker.build_index(settings)
    first = path.stat().st_mtime_ns
    assert Linker.build_index(settings).stat().st_mtime_ns == first
    vocab = data / "names" / "drugbank_vocabulary.csv"
    with vocab.open("a") as handle:
        handle.write("DB99998,,Testamab,,,Testamabum,\n")
    os.utime(vocab)
    assert Linker.build_index(settings).stat().st_mtime_ns != first
    assert Linker.from_settings(settings).link_drug("testamab").id == "DB99998"
