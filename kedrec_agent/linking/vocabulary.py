"""The linker's name index, built from the bundle's name tables and cached on disk.

Entries map a normalised name to (id, kind, priority, original name). Priorities order
ambiguous names: a DrugBank common name before a synonym, a MeSH descriptor before a
supplementary concept, a drug before a chemical class.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kedrec_agent.config import Settings
from kedrec_agent.data import bundle
from kedrec_agent.data.names import (
    iter_disease_names,
    iter_doid_mesh_xrefs,
    iter_drugbank_vocabulary,
    iter_hetionet_nodes,
    iter_icd9_titles,
    iter_mesh_terms,
    read_mesh_tree_numbers,
)
from kedrec_agent.linking.normalize import name_variants, normalize

log = logging.getLogger(__name__)

INDEX_VERSION = 1
EntityKind = Literal["drug", "disease", "substance"]
# MeSH trees: C = diseases, F03 = mental disorders, D = chemicals and drugs.
_DISEASE_TREES = ("C", "F03")


@dataclass(frozen=True)
class Entry:
    """One name of one entity."""

    id: str
    kind: EntityKind
    priority: int
    name: str

    @property
    def abbreviation(self) -> bool:
        """An all-capitals short name (``ALL``, ``CAD``): in free text it must be capitals."""
        return self.name.isupper() and len(self.name) <= 6


@dataclass
class NameIndex:
    """Everything the linker needs, picklable."""

    stamp: dict[str, list[int]]
    exact: dict[str, list[Entry]] = field(default_factory=dict)
    preferred: dict[str, str] = field(default_factory=dict)  # id -> display name
    kinds: dict[str, EntityKind] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # CAS / UNII -> DrugBank id
    icd9: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (short, long)
    xrefs: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, entity_id: str, kind: EntityKind, priority: int) -> None:
        """Index ``name`` (and its comma-inverted variant) for ``entity_id``."""
        self.kinds.setdefault(entity_id, kind)
        self.preferred.setdefault(entity_id, name)
        for variant in name_variants(name):
            key = normalize(variant)
            if not key:
                continue
            entries = self.exact.setdefault(key, [])
            if not any(e.id == entity_id for e in entries):
                entries.append(Entry(entity_id, kind, priority, variant))

    def keys_of(self, kind: EntityKind) -> list[str]:
        """All normalised names that name an entity of ``kind`` (for fuzzy matching)."""
        return [key for key, entries in self.exact.items() if any(e.kind == kind for e in entries)]


def _inputs(settings: Settings) -> list[Path]:
    return [settings.data_file(relative) for relative in bundle.LINKING_FILES]


def input_stamp(settings: Settings) -> dict[str, list[int]]:
    """(size, mtime_ns) of each input file, plus the index version."""
    stamp = {str(p.resolve()): [p.stat().st_size, p.stat().st_mtime_ns] for p in _inputs(settings)}
    stamp["version"] = [INDEX_VERSION]
    return stamp


def build_name_index(settings: Settings) -> NameIndex:
    """Read the name tables of the bundle into a :class:`NameIndex`."""
    data = settings.data_file
    index = NameIndex(stamp=input_stamp(settings))
    drug_keys: set[str] = set()
    for record in iter_drugbank_vocabulary(data(bundle.DRUGBANK_VOCABULARY)):
        index.add(record.name, record.drugbank_id, "drug", 0)
        for synonym in record.synonyms:
            index.add(synonym, record.drugbank_id, "drug", 1)
        drug_keys.update(normalize(n) for n in (record.name, *record.synonyms))
        for code in (record.cas, record.unii):
            if code:
                index.codes[code.upper()] = record.drugbank_id
    trees = read_mesh_tree_numbers(data(bundle.MESH_TREE_NUMBERS))
    for mesh_id, name in iter_mesh_terms(data(bundle.MESH_TERMS)):
        numbers = trees.get(mesh_id, [])
        if any(n.startswith(_DISEASE_TREES) for n in numbers):
            index.add(name, f"MESH:{mesh_id}", "disease", 0)
        elif any(n.startswith("D") for n in numbers) and normalize(name) not in drug_keys:
            index.add(name, f"MESH:{mesh_id}", "substance", 3)
    for name, mesh_id in iter_disease_names(data(bundle.DISEASE_NAME_TO_MESH)):
        index.add(name, f"MESH:{mesh_id}", "disease", 1 if mesh_id.startswith("D") else 2)
    for node, name, kind in iter_hetionet_nodes(data(bundle.HETIONET_NODES)):
        local = node.partition("::")[2]
        if kind == "Disease":
            index.add(name, local, "disease", 0)
        elif kind == "Symptom":
            index.add(name, f"MESH:{local}", "disease", 1)
        elif kind == "Compound" and local.startswith("DB"):
            index.add(name, local, "drug", 1)
    index.xrefs = list(iter_doid_mesh_xrefs(data(bundle.DOID_MESH_XREFS)))
    for code, short, long in iter_icd9_titles(data(bundle.ICD9_DIAGNOSES)):
        index.icd9[code] = (short, long)
    return index


def load_or_build(settings: Settings, force: bool = False) -> tuple[NameIndex, Path]:
    """The cached index when its stamp matches the inputs, else a fresh build (then cached)."""
    path = settings.cache_dir / "linker-index.pkl"
    stamp = input_stamp(settings)
    if path.is_file() and not force:
        try:
            with path.open("rb") as handle:
                cached = pickle.load(handle)  # our own cache file under KEDREC_HOME
            if isinstance(cached, NameIndex) and cached.stamp == stamp:
                return cached, path
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            log.warning("linker index cache unreadable; rebuilding")
    index = build_name_index(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    with scratch.open("wb") as handle:
        pickle.dump(index, handle, protocol=pickle.HIGHEST_PROTOCOL)
    scratch.replace(path)
    return index, path
