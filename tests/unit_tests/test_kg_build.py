"""Building the RDF store: verified counts, stamps, atomic replacement, malformed input."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedrec_agent.config import Settings
from kedrec_agent.data.drkg import iter_triples, split_entity
from kedrec_agent.errors import DataMissingError, InvalidInputError
from kedrec_agent.kg import build as build_module
from kedrec_agent.kg import relations, vocab
from kedrec_agent.kg.build import BuildVerificationError, build_store, count_triples
from tests.conftest import FIXTURE_BUNDLE


def _copy_bundle(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    shutil.copytree(FIXTURE_BUNDLE, data)
    return Settings(data_dir=data, home=tmp_path / "home")


def _store_count(settings: Settings) -> int:
    return count_triples(ox.Store.read_only(str(settings.kg_store_dir)))


def test_build_counts_match_and_rebuild_is_a_noop(tmp_path: Path) -> None:
    settings = _copy_bundle(tmp_path)
    first = build_store(settings, progress=False)
    assert not first.cached
    lines = sum(1 for p in first.inputs if "drkg" in p for _ in iter_triples(Path(p)))
    assert first.drkg_edges == lines
    assert first.triples == _store_count(settings) > lines
    second = build_store(settings, progress=False)
    assert second.cached and second.triples == first.triples


def test_changed_input_triggers_rebuild(tmp_path: Path) -> None:
    settings = _copy_bundle(tmp_path)
    build_store(settings, progress=False)
    ddi = settings.data_dir / "kg" / "drkg_ddi_extra.tsv.gz"
    with gzip.open(ddi, "at") as handle:
        handle.write(
            "Compound::DB00619\tDRUGBANK::ddi-interactor-in::Compound:Compound\tCompound::DB99999\n"
        )
    report = build_store(settings, progress=False)
    assert not report.cached
    assert report.triples == _store_count(settings)


def test_malformed_line_names_file_and_keeps_old_store(tmp_path: Path) -> None:
    settings = _copy_bundle(tmp_path)
    good = build_store(settings, progress=False)
    bad = settings.data_dir / "kg" / "drkg_ddi.tsv.gz"
    with gzip.open(bad, "at") as handle:
        handle.write("Compound::DB00001\tonly-two-columns\n")
    with pytest.raises(InvalidInputError, match=r"drkg_ddi\.tsv\.gz:\d+"):
        build_store(settings, progress=False)
    assert _store_count(settings) == good.triples
    assert not list(settings.kg_dir.glob("oxigraph.building-*"))


def test_verification_failure_discards_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _copy_bundle(tmp_path)
    monkeypatch.setattr(build_module._TripleWriter, "distinct", lambda self: 1)
    with pytest.raises(BuildVerificationError):
        build_store(settings, progress=False)
    assert not settings.kg_store_dir.exists()
    assert build_module.read_stamp(settings) is None


def test_missing_bundle_file_is_named(tmp_path: Path) -> None:
    settings = _copy_bundle(tmp_path)
    os.remove(settings.data_dir / "kg" / "ddi_types.tsv")
    with pytest.raises(DataMissingError, match=r"kg/ddi_types\.tsv"):
        build_store(settings, progress=False)


def test_user_drkg_file_replaces_subset(tmp_path: Path) -> None:
    settings = _copy_bundle(tmp_path)
    own = tmp_path / "drkg.tsv"  # plain (not gzipped), as the full DRKG download
    own.write_text(
        "Compound::DB00619\tDRUGBANK::treats::Compound:Disease\tDisease::MESH:D015464\n"
        "Gene::25\tGNBR::L::Gene:Disease\tDisease::MESH:D015464\n"
        "Compound::DB00619\tDRUGBANK::treats::Compound:Disease\tDisease::MESH:D015464\n"
    )
    settings = Settings(data_dir=settings.data_dir, home=settings.home, drkg_path=own)
    report = build_store(settings, progress=False)
    assert report.triples == _store_count(settings)


@given(st.text(min_size=1, max_size=30).filter(lambda s: "::" not in s and s.strip() == s))
def test_entity_iri_round_trip(local: str) -> None:
    name = f"Side Effect::{local}"
    iri = vocab.entity_iri(name)
    assert not any(ch in iri for ch in ' <>"{}|^`\\')
    assert vocab.drkg_name(iri) == name


def test_split_entity_rejects_non_drkg_names() -> None:
    assert split_entity("Disease::MESH:D015464") == ("Disease", "MESH:D015464")
    with pytest.raises(InvalidInputError):
        split_entity("DB00619")


@pytest.mark.parametrize(
    ("relation", "category"),
    [
        ("DRUGBANK::treats::Compound:Disease", relations.TREATS),
        ("Hetionet::CtD::Compound:Disease", relations.TREATS),
        ("GNBR::T::Compound:Disease", relations.TREATS),
        ("Hetionet::CpD::Compound:Disease", relations.PALLIATES),
        ("GNBR::Sa::Compound:Disease", relations.DRUG_DISEASE_OTHER),
        ("DGIDB::INHIBITOR::Gene:Compound", relations.GENE_DRUG),
        ("DRUGBANK::enzyme::Compound:Gene", relations.DRUG_GENE),
        ("Hetionet::DaG::Disease:Gene", relations.DISEASE_GENE),
        ("GNBR::L::Gene:Disease", relations.GENE_DISEASE),
        ("DRUGBANK::ddi-interactor-in::Compound:Compound", relations.DRUG_INTERACTION),
        ("STRING::BINDING::Gene:Gene", relations.OTHER),
    ],
)
def test_relation_categories(relation: str, category: str) -> None:
    assert relations.categorize(relation) == category
