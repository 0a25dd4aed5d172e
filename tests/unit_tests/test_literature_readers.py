"""Literature readers, format detection and chunking (no database)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kedrec_agent.errors import InvalidInputError
from kedrec_agent.literature.chunking import chunk_text, sentences
from kedrec_agent.literature.readers import detect_format, read_documents

LIT = Path(__file__).resolve().parents[1] / "fixtures" / "literature"


def test_pubtator_keeps_mesh_annotations() -> None:
    docs = list(read_documents(LIT / "bc5cdr_40.PubTator.txt"))
    assert len(docs) == 40
    first = docs[0]
    assert (first.source, first.external_id) == ("pubmed", "227508")
    assert first.title.startswith("Naloxone reverses")
    assert "D009270" in first.metadata["chemicals"]  # naloxone
    assert "D006973" in first.metadata["diseases"]  # hypertension
    assert "-1" not in first.metadata["mesh"]
    assert first.metadata["cid"]


def test_pubmed_xml_and_ctgov_formats() -> None:
    (article,) = read_documents(LIT / "pubmed_sample.xml")
    assert (article.external_id, article.year) == ("90000001", 2021)
    assert "bleeding risk" in article.text and article.metadata["mesh"] == ["D006470", "D014859"]
    (study,) = read_documents(LIT / "ctgov_v2_study.json")
    assert (study.source, study.external_id, study.year) == ("ctgov", "NCT99999901", 2018)
    assert "Metformin" in study.text and study.metadata["mesh"] == ["D003924"]
    trials = list(read_documents(LIT / "ctgov_2.jsonl"))
    assert [t.external_id for t in trials] == ["NCT00004932", "NCT00461929"]
    assert all(t.metadata["conditions"] for t in trials)


def test_gzip_and_detection(tmp_path: Path) -> None:
    packed = tmp_path / "trials.jsonl.gz"
    packed.write_bytes(gzip.compress((LIT / "ctgov_2.jsonl").read_bytes()))
    assert detect_format(packed) == "ctgov-jsonl"
    assert len(list(read_documents(packed))) == 2


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.txt", "just some text"), ("data.json", '{"a": 1}'), ("x.csv", "PMID,Text\n1,a")],
)
def test_unknown_formats_fail_clearly(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidInputError, match="Unknown literature format"):
        detect_format(path)


def test_malformed_json_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"nct_id": "NCT1", "brief_title": "t"}\n{"nct_id": broken\n')
    with pytest.raises(InvalidInputError, match=r"bad\.jsonl:2"):
        list(read_documents(path))


def test_chunks_keep_sentences_whole() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    chunks = chunk_text(text, max_words=50)
    assert len(chunks) > 1
    assert all(len(c.split()) <= 50 for c in chunks)
    assert sum(len(sentences(c)) for c in chunks) == 40
    assert " ".join(chunks) == text
    long_sentence = "word " * 300 + "end."
    assert chunk_text(long_sentence.strip(), max_words=50) == [long_sentence.strip()]
