"""Entity linking on the tiny bundle: normalisation, ids, equivalences, fuzzy, errors, cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedrec_agent.config import Settings
from kedrec_agent.errors import InvalidInputError, UnknownEntityError
from kedrec_agent.linking import LinkedEntity, Linker, get_linker
from kedrec_agent.linking.normalize import name_variants, normalize, spans
from kedrec_agent.linking.vocabulary import index_path
from tests.conftest import FIXTURE_BUNDLE

# --- normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Penicillins", "penicillin"),
        ("LEUKEMIAS", "leukemia"),
        ("therapies", "therapy"),
        ("Crohn's disease", "Crohn disease"),
        ("Diabetes Mellitus, Type II", "diabetes mellitus type 2"),
        ("chronic myeloid leukaemia", "Chronic Myeloid Leukemia"),
        ("Sjögren", "sjogren"),
        ("BCR-ABL", "bcr abl"),
    ],
)
def test_normalize_folds_case_punctuation_plurals(left: str, right: str) -> None:
    assert normalize(left) == normalize(right)


@pytest.mark.parametrize("word", ["mellitus", "psoriasis", "abscess", "virus"])
def test_normalize_keeps_words_that_only_look_plural(word: str) -> None:
    assert normalize(word) == word


def test_comma_inverted_mesh_heading_reads_naturally() -> None:
    variants = name_variants("Leukemia, Myelogenous, Chronic, BCR-ABL Positive")
    assert normalize(variants[1]) == normalize("BCR-ABL positive chronic myelogenous leukemia")
    assert name_variants("Imatinib") == ["Imatinib"]


def test_spans_index_the_original_text() -> None:
    text = "  Crème-brûlée's Type-2  "
    for token, start, end in spans(text):
        assert normalize(text[start:end]).split().count(token) >= 1


# --- ids and exact names ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Imatinib", "IMATINIB", "imatinib.", "  imatinib ", "DB00619"])
def test_drug_case_punctuation_and_id(tiny_linker: Linker, text: str) -> None:
    entity = tiny_linker.link_drug(text)
    assert (entity.id, entity.kind, entity.score) == ("DB00619", "drug", 100.0)
    assert entity.canonical == "DB00619" and entity.equivalents == ("DB00619",)
    assert entity.drkg_entity == "Compound::DB00619"


def test_synonym_links_to_common_name(tiny_linker: Linker) -> None:
    entity = tiny_linker.link_drug("aspirin")
    assert entity.id == "DB00945"
    assert entity.name == "Acetylsalicylic acid"
    assert entity.matched == "Aspirin"


@pytest.mark.parametrize(
    ("code", "drug"), [("50-78-2", "DB00945"), ("r16co5y76e", "DB00945"), ("81-81-2", "DB00682")]
)
def test_cas_and_unii_codes(tiny_linker: Linker, code: str, drug: str) -> None:
    assert tiny_linker.link_drug(code).id == drug


@pytest.mark.parametrize("text", ["warfarin sodium", "Metformin HCl", "metformin hydrochloride ER"])
def test_salt_and_release_words_are_ignored(tiny_linker: Linker, text: str) -> None:
    assert tiny_linker.link_drug(text).score == 100.0
    assert tiny_linker.link_drug(text).id in {"DB00682", "DB00331"}


def test_plural_and_inverted_mesh_names(tiny_linker: Linker) -> None:
    substance = tiny_linker.link("penicillin", "substance")
    assert (substance.id, substance.kind) == ("MESH:D010406", "substance")
    assert substance.drkg_entity == "Substance::MESH:D010406"
    assert tiny_linker.link_disease("type 2 diabetes mellitus").canonical == "MESH:D003924"
    assert tiny_linker.link_disease("Diabetes Mellitus, Type 2").canonical == "MESH:D003924"
    assert tiny_linker.link_disease("Diabetes mellitus type II").canonical == "MESH:D003924"
    cml = tiny_linker.link_disease("BCR-ABL positive chronic myelogenous leukemia")
    assert cml.canonical == "MESH:D015464"


def test_possessive_names(tiny_linker: Linker) -> None:
    for text in ("Barrett's esophagus", "Barretts Esophagus", "barrett esophagus"):
        assert tiny_linker.link_disease(text).canonical == "MESH:D001471"


@pytest.mark.parametrize("text", ["MESH:D015464", "D015464", "mesh:d015464", "DOID:8552"])
def test_doid_and_mesh_resolve_to_one_concept(tiny_linker: Linker, text: str) -> None:
    entity = tiny_linker.link_disease(text)
    assert entity.canonical == "MESH:D015464"
    assert entity.equivalents == ("DOID:8552", "MESH:D015464")
    assert entity.drkg_entity == f"Disease::{entity.id}"
    concept = tiny_linker.disease(text)
    assert concept.canonical == "MESH:D015464"
    assert concept.equivalents == frozenset({"MESH:D015464", "DOID:8552"})


def test_doid_name_and_mesh_name_give_the_same_concept(tiny_linker: Linker) -> None:
    by_doid = tiny_linker.link_disease("DOID:9352")
    by_name = tiny_linker.link_disease("type 2 diabetes")
    assert by_doid.id == "DOID:9352"
    assert by_doid.canonical == by_name.canonical == "MESH:D003924"
    assert by_doid.equivalents == by_name.equivalents == ("DOID:9352", "MESH:D003924")


def test_disease_rejects_what_is_not_a_disease_id(tiny_linker: Linker) -> None:
    with pytest.raises(InvalidInputError):
        tiny_linker.disease("DB00619")
    lonely = tiny_linker.disease("D009369")  # Neoplasms: no cross reference in the slice
    assert lonely.canonical == "MESH:D009369" and lonely.equivalents == {"MESH:D009369"}


def test_name_of(tiny_linker: Linker) -> None:
    assert tiny_linker.name_of("DB00619") == "Imatinib"
    assert tiny_linker.name_of("D003924") == "Diabetes Mellitus, Type 2"
    assert tiny_linker.name_of("MESH:D010406") == "Penicillins"
    assert tiny_linker.name_of("DOID:9352") == "type 2 diabetes mellitus"
    assert tiny_linker.name_of("DB99999") is None


@pytest.mark.parametrize("code", ["ICD9:4019", "401.9", "4019", "icd-9: 401.9"])
def test_icd9_code_links_through_its_title(tiny_linker: Linker, code: str) -> None:
    entity = tiny_linker.link_disease(code)  # "Unspecified essential hypertension"
    assert entity.canonical == "MESH:D006973"
    assert "4019" in entity.matched


def test_icd9_category_and_unlinkable_codes(tiny_linker: Linker) -> None:
    assert tiny_linker.link_disease("ICD9:250").canonical in {"MESH:D003920", "MESH:D003924"}
    assert tiny_linker.link_disease("ICD9:20510").canonical == "MESH:D015464"
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease("ICD9:V5861")  # "Long-term (current) use of anticoagulants"
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease("ICD9:99999")


# --- fuzzy matching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [("imatinb", "drug", "DB00619"), ("hypertenion", "disease", "MESH:D006973")],
)
def test_typo_is_accepted_with_its_score(
    tiny_linker: Linker, text: str, kind: str, expected: str
) -> None:
    entity = tiny_linker.link(text, kind)  # type: ignore[arg-type]
    assert entity.canonical == expected
    assert tiny_linker.accept_score <= entity.score < 100


def test_below_threshold_is_rejected_with_suggestions(tiny_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError) as caught:
        tiny_linker.link_drug("imatinibbo")
    assert caught.value.kind == "drug"
    assert caught.value.suggestions[0] == "Imatinib (DB00619)"
    assert "Imatinib (DB00619)" in str(caught.value)
    found = tiny_linker.candidates("imatinibbo", "drug")
    assert found[0].id == "DB00619"
    assert all(c.score < tiny_linker.accept_score for c in found)


def test_nonsense_is_rejected(tiny_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError) as caught:
        tiny_linker.link_disease("xyzzy")
    assert caught.value.suggestions == []
    assert "No similar name" in str(caught.value)


def test_a_different_number_is_never_a_typo(tiny_linker: Linker) -> None:
    # one character away from "type 2 diabetes mellitus", but another disease
    with pytest.raises(UnknownEntityError) as caught:
        tiny_linker.link_disease("type 3 diabetes mellitus")
    assert any("MESH:D003924" in s for s in caught.value.suggestions)


def test_partial_names_are_suggested_not_linked(tiny_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError) as caught:
        tiny_linker.link_disease("leukemia")
    assert any("MESH:D015464" in s for s in caught.value.suggestions)


def test_wrong_kind_is_not_linked(tiny_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease("warfarin")
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_drug("DB99999")
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease("D010406")  # a MeSH chemical, not a disease


def test_candidates_rank_accepted_before_suggestions(tiny_linker: Linker) -> None:
    found = tiny_linker.candidates("warfarin", limit=10)
    assert found[0].id == "DB00682" and found[0].score == 100.0
    scores = [c.score >= tiny_linker.accept_score for c in found]
    assert scores == sorted(scores, reverse=True)
    assert len({(c.kind, c.canonical) for c in found}) == len(found)
    assert len(tiny_linker.candidates("warfarin", limit=1)) == 1


@pytest.mark.parametrize("bad", ["", "   ", "x" * 501, None, 42, b"imatinib"])
def test_bad_input_is_a_clear_error(tiny_linker: Linker, bad: object) -> None:
    with pytest.raises(InvalidInputError):
        tiny_linker.link_drug(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        tiny_linker.candidates(bad)  # type: ignore[arg-type]


def test_bad_kind_and_limit_are_clear_errors(tiny_linker: Linker) -> None:
    with pytest.raises(InvalidInputError, match="kind"):
        tiny_linker.link("imatinib", "gene")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="limit"):
        tiny_linker.candidates("imatinib", limit=0)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=400))
def test_candidates_never_crash(tiny_linker: Linker, text: str) -> None:
    if not text.strip():
        with pytest.raises(InvalidInputError):
            tiny_linker.candidates(text)
        return
    for candidate in tiny_linker.candidates(text, limit=8):
        assert isinstance(candidate, LinkedEntity)
        assert 0 <= candidate.score <= 100
        assert candidate.kind in {"drug", "disease", "substance"}
        assert candidate.id in candidate.equivalents


# --- the index cache ----------------------------------------------------------------------


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    shutil.copytree(FIXTURE_BUNDLE, data)
    return Settings(data_dir=data, home=tmp_path / "home")


def _append_drugs(settings: Settings, *rows: str) -> None:
    vocab = settings.data_dir / "names" / "drugbank_vocabulary.csv"
    with vocab.open("a", encoding="utf-8") as handle:
        handle.writelines(row + "\n" for row in rows)
    os.utime(vocab)


def test_index_cache_is_reused_and_rebuilt_when_inputs_change(bundle_copy: Settings) -> None:
    path = Linker.build_index(bundle_copy)
    assert path == index_path(bundle_copy) and path.parent == bundle_copy.cache_dir
    first = path.stat().st_mtime_ns
    assert Linker.build_index(bundle_copy).stat().st_mtime_ns == first  # no-op
    assert Linker.from_settings(bundle_copy).link_drug("imatinib").id == "DB00619"
    assert path.stat().st_mtime_ns == first  # loading does not rebuild either
    _append_drugs(bundle_copy, "DB99998,,Testamab,,,Testamabum,")
    assert Linker.build_index(bundle_copy).stat().st_mtime_ns != first
    assert Linker.from_settings(bundle_copy).link_drug("testamab").id == "DB99998"


def test_forced_and_corrupt_caches_are_rebuilt(bundle_copy: Settings) -> None:
    path = Linker.build_index(bundle_copy)
    first = path.stat().st_mtime_ns
    assert Linker.build_index(bundle_copy, force=True).stat().st_mtime_ns != first
    path.write_bytes(b"not a pickle")
    assert Linker.from_settings(bundle_copy).link_drug("DB00619").name == "Imatinib"
    assert Linker.build_index(bundle_copy).stat().st_size > 1000


def test_a_missing_bundle_file_is_a_clear_error(bundle_copy: Settings) -> None:
    from kedrec_agent.errors import DataMissingError

    (bundle_copy.data_dir / "names" / "mesh_terms.tsv").unlink()
    with pytest.raises(DataMissingError, match="mesh_terms"):
        Linker.build_index(bundle_copy)


def test_a_fuzzy_tie_between_two_entities_is_not_linked(bundle_copy: Settings) -> None:
    _append_drugs(bundle_copy, "DB99991,,Zorbatinib,,,,", "DB99992,,Zorbatinob,,,,")
    linker = Linker.from_settings(bundle_copy)
    assert linker.link_drug("zorbatinib").id == "DB99991"
    with pytest.raises(UnknownEntityError) as caught:
        linker.link_drug("zorbatinab")  # as close to one as to the other
    assert {"Zorbatinib (DB99991)", "Zorbatinob (DB99992)"} <= set(caught.value.suggestions)


def test_get_linker_is_cached_per_settings(tiny_settings: Settings, bundle_copy: Settings) -> None:
    assert get_linker(tiny_settings) is get_linker(tiny_settings)
    assert get_linker(bundle_copy) is not get_linker(tiny_settings)
