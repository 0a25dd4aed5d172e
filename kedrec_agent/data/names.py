"""Readers of the name tables used for labels and entity linking (all streaming).

Every reader takes the file path, so users can point at their own (e.g. a licensed
DrugBank vocabulary) in the same format.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kedrec_agent.data.drkg import open_text


@dataclass(frozen=True)
class DrugRecord:
    """One row of the DrugBank open vocabulary."""

    drugbank_id: str
    name: str
    synonyms: tuple[str, ...]
    cas: str
    unii: str
    inchikey: str


def _tsv_rows(path: Path) -> Iterator[dict[str, str]]:
    with open_text(path) as handle:
        yield from csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)


def iter_drugbank_vocabulary(path: Path) -> Iterator[DrugRecord]:
    """DrugBank vocabulary CSV -> :class:`DrugRecord` (synonyms split on ``|``)."""
    with open_text(path) as handle:
        for row in csv.DictReader(handle):
            synonyms = tuple(s.strip() for s in (row.get("Synonyms") or "").split("|"))
            yield DrugRecord(
                drugbank_id=row["DrugBank ID"].strip(),
                name=row["Common name"].strip(),
                synonyms=tuple(s for s in synonyms if s),
                cas=(row.get("CAS") or "").strip(),
                unii=(row.get("UNII") or "").strip(),
                inchikey=(row.get("Standard InChI Key") or "").strip(),
            )


def iter_mesh_terms(path: Path) -> Iterator[tuple[str, str]]:
    """``mesh_terms.tsv`` -> (MeSH id without prefix, e.g. ``D003924``; preferred name)."""
    for row in _tsv_rows(path):
        yield row["mesh_id"], row["mesh_name"]


def iter_mesh_tree_rows(path: Path) -> Iterator[tuple[str, str, str]]:
    """``mesh_tree_numbers.tsv`` -> (MeSH id without prefix, name, tree number)."""
    for row in _tsv_rows(path):
        yield row["mesh_id"], row["mesh_name"], row["mesh_tree_number"]


def read_mesh_tree_numbers(path: Path) -> dict[str, list[str]]:
    """``mesh_tree_numbers.tsv`` -> MeSH id -> its tree numbers (``C14.907.489``...)."""
    trees: dict[str, list[str]] = {}
    for mesh_id, _, number in iter_mesh_tree_rows(path):
        trees.setdefault(mesh_id, []).append(number)
    return trees


def iter_mesh_symptoms(path: Path) -> Iterator[tuple[str, str]]:
    """``mesh_symptoms.tsv`` -> (MeSH id, name) of the symptoms Hetionet uses."""
    for row in _tsv_rows(path):
        yield row["mesh_id"], row["mesh_name"]


def iter_hetionet_nodes(path: Path) -> Iterator[tuple[str, str, str]]:
    """``hetionet_nodes.tsv`` -> (DRKG-style entity, e.g. ``Gene::1017``; name; kind)."""
    for row in _tsv_rows(path):
        yield row["id"], row["name"], row["kind"]


def iter_disease_names(path: Path) -> Iterator[tuple[str, str]]:
    """``disease_name_to_mesh.tsv`` -> (disease name, MeSH id without prefix)."""
    for row in _tsv_rows(path):
        yield row["disease"], row["mesh_id"]


def iter_doid_mesh_xrefs(path: Path) -> Iterator[tuple[str, str]]:
    """``disease_doid_mesh_xrefs.tsv`` -> (``DOID:…``, ``MESH:…``) pairs."""
    for row in _tsv_rows(path):
        mesh = row["mesh"].strip()
        yield row["doid"].strip(), mesh if mesh.startswith("MESH:") else f"MESH:{mesh}"


def iter_icd9_titles(path: Path) -> Iterator[tuple[str, str, str]]:
    """MIMIC-III ``D_ICD_DIAGNOSES.csv`` -> (ICD-9 code, short title, long title)."""
    with open_text(path) as handle:
        for row in csv.DictReader(handle):
            yield row["ICD9_CODE"].strip(), row["SHORT_TITLE"].strip(), row["LONG_TITLE"].strip()
