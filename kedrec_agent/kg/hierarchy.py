"""How close two diseases sit in the MeSH disease trees (``C``, ``F03``).

A drug indicated for a closely related disease (a parent, a child or a sibling heading) is
a classic knowledge-graph repurposing signal: proton-pump inhibitors indicated for
gastro-oesophageal reflux are plausible for peptic oesophagitis, both under *Esophagitis*.
The score of two headings is the depth of their deepest shared ancestor divided by the
depth of the deeper of the two tree numbers (1.0: the same heading, 0.0: different trees).

Example:
    >>> tree = DiseaseHierarchy({"MESH:D004942": ["C06.405.117.316"],
    ...                          "MESH:D005764": ["C06.405.117.119.500"]},
    ...                         {"C06.405.117": "Esophageal Diseases"})
    >>> tree.relation("MESH:D004942", "MESH:D005764")
    Relatedness(score=0.6, ancestor='Esophageal Diseases')
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kedrec_agent.data.names import iter_mesh_tree_rows

DISEASE_TREES = ("C", "F03")
"""MeSH branches that hold diseases (C: diseases, F03: mental disorders)."""


@dataclass(frozen=True)
class Relatedness:
    """How close two diseases are, and the heading they share (``None``: none named)."""

    score: float
    ancestor: str | None


def _shared_depth(a: Sequence[str], b: Sequence[str]) -> int:
    depth = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        depth += 1
    return depth


class DiseaseHierarchy:
    """MeSH tree numbers of disease headings, and the names of the tree's nodes.

    Args:
        trees: MeSH id (``MESH:D004942``) -> its tree numbers in the disease branches.
        names: tree number -> the name of the heading at that node.
    """

    def __init__(self, trees: Mapping[str, Sequence[str]], names: Mapping[str, str]) -> None:
        self._trees = {k: [n.split(".") for n in v] for k, v in trees.items() if v}
        self._names = dict(names)

    @classmethod
    def from_file(cls, path: Path) -> DiseaseHierarchy:
        """Read a ``mesh_tree_numbers.tsv`` (``mesh_id``, ``mesh_name``, ``mesh_tree_number``).

        The bundle's file or the full MeSH in the same columns; non-disease branches are
        skipped.
        """
        trees: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for mesh_id, name, number in iter_mesh_tree_rows(path):
            if number.startswith(DISEASE_TREES):
                trees.setdefault(f"MESH:{mesh_id}", []).append(number)
                names[number] = name
        return cls(trees, names)

    def __contains__(self, disease_id: object) -> bool:
        return disease_id in self._trees

    def lineage(self, disease: str | Iterable[str]) -> set[str]:
        """MeSH ids of the headings above or below ``disease`` in any of its trees.

        ``disease`` is one id or its equivalent ids; they themselves are not included.
        Empty when none of them has a tree number.
        """
        own = _numbers(self._trees, disease)
        ids = {disease} if isinstance(disease, str) else set(disease)
        return {
            other
            for other, numbers in self._trees.items()
            if other not in ids
            and any(_within(x, y) or _within(y, x) for x in own for y in numbers)
        }

    def narrower(self, disease: str | Iterable[str]) -> set[str]:
        """MeSH ids of the headings below ``disease`` (one id or its equivalents) in its trees."""
        own = _numbers(self._trees, disease)
        ids = {disease} if isinstance(disease, str) else set(disease)
        return {
            other
            for other, numbers in self._trees.items()
            if other not in ids and any(_within(x, y) and x != y for x in own for y in numbers)
        }

    def under(self, disease: str | Iterable[str], ancestor: str) -> bool:
        """Whether ``disease`` (one id or its equivalents) is ``ancestor`` or below it."""
        above = _numbers(self._trees, ancestor)
        return any(_within(a, own) for own in _numbers(self._trees, disease) for a in above)

    def is_category(self, disease: str | Iterable[str]) -> bool:
        """Whether ``disease`` (one id or its equivalent ids) is only a top-level heading.

        A heading whose every tree number has one level (``C04`` Neoplasms) is a category of
        diseases rather than a diagnosis; ids without a tree number are not.
        """
        numbers = _numbers(self._trees, disease)
        return bool(numbers) and all(len(n) == 1 for n in numbers)

    def relation(self, a: str | Iterable[str], b: str | Iterable[str]) -> Relatedness:
        """The closest relation between two diseases, each given as one id or equivalent ids.

        Ids without a tree number (DOID, unknown MeSH) are ignored; 0.0 when nothing is
        shared.
        """
        best = Relatedness(0.0, None)
        for x in _numbers(self._trees, a):
            for y in _numbers(self._trees, b):
                depth = _shared_depth(x, y)
                score = depth / max(len(x), len(y))
                if depth and score > best.score:
                    best = Relatedness(round(score, 4), self._names.get(".".join(x[:depth])))
        return best


def _within(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether tree number ``a`` is ``b`` or one of its ancestors."""
    return len(a) <= len(b) and list(b[: len(a)]) == list(a)


def _numbers(trees: Mapping[str, list[list[str]]], ids: str | Iterable[str]) -> list[list[str]]:
    ids = [ids] if isinstance(ids, str) else ids
    return [number for i in ids for number in trees.get(i, ())]


_CACHE: dict[Path, DiseaseHierarchy] = {}
_LOCK = threading.Lock()


def load_hierarchy(path: Path) -> DiseaseHierarchy:
    """The hierarchy of ``path``, read once per process (an empty one if it is missing)."""
    with _LOCK:
        if path not in _CACHE:
            _CACHE[path] = DiseaseHierarchy.from_file(path) if path.is_file() else EMPTY
        return _CACHE[path]


EMPTY = DiseaseHierarchy({}, {})
"""No tree: every pair of diseases is unrelated (a graph without MeSH tree numbers)."""
