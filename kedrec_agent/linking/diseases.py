"""One canonical disease per group of equivalent DOID / MeSH ids.

Hetionet names diseases by Disease Ontology ids (``DOID:9352``), DrugBank by MeSH ids
(``MESH:D003924``); the bundle's cross references join them. Ids linked directly or
through a chain of cross references form one concept. Its canonical key is the smallest
MeSH id of the group (MeSH is preferred, as in the bundle's split files), else the
smallest DOID.

Example:
    >>> eq = DiseaseEquivalences.from_pairs([("DOID:9352", "MESH:D003924")])
    >>> eq.concept("DOID:9352").canonical
    'MESH:D003924'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class DiseaseConcept:
    """A disease with all its equivalent ids (the canonical one included)."""

    canonical: str
    equivalents: frozenset[str]


def _preference(disease_id: str) -> tuple[int, str]:
    return (0 if disease_id.startswith("MESH:") else 1, disease_id)


class DiseaseEquivalences:
    """Union-find over DOID <-> MeSH cross references."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self._members: dict[str, frozenset[str]] | None = None

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> DiseaseEquivalences:
        """Build from (id, id) equivalence pairs, e.g. :func:`iter_doid_mesh_xrefs`."""
        equivalences = cls()
        for left, right in pairs:
            equivalences.union(left, right)
        return equivalences

    def _find(self, node: str) -> str:
        parent = self._parent.setdefault(node, node)
        while parent != node:
            grand = self._parent[parent]
            self._parent[node] = grand
            node, parent = parent, grand
        return node

    def union(self, left: str, right: str) -> None:
        """Declare two disease ids equivalent."""
        self._members = None
        a, b = self._find(left), self._find(right)
        if a != b:
            # Keep the preferred id at the root, so the root is the canonical key.
            keep, drop = sorted((a, b), key=_preference)
            self._parent[drop] = keep

    def canonical(self, disease_id: str) -> str:
        """The canonical key of ``disease_id`` (itself when it has no cross reference)."""
        return self._find(disease_id) if disease_id in self._parent else disease_id

    def same(self, left: str, right: str) -> bool:
        """Whether two disease ids are the same disease (equal, or DOID/MeSH equivalents)."""
        return left == right or self.canonical(left) == self.canonical(right)

    def concept(self, disease_id: str) -> DiseaseConcept:
        """The canonical key and every equivalent id of ``disease_id``."""
        if disease_id not in self._parent:
            return DiseaseConcept(disease_id, frozenset({disease_id}))
        root = self._find(disease_id)
        return DiseaseConcept(root, self._groups()[root])

    def groups(self) -> Iterator[DiseaseConcept]:
        """Every concept that has at least two ids."""
        for root, members in self._groups().items():
            yield DiseaseConcept(root, members)

    def _groups(self) -> dict[str, frozenset[str]]:
        if self._members is None:
            members: dict[str, set[str]] = {}
            for node in self._parent:
                members.setdefault(self._find(node), set()).add(node)
            self._members = {root: frozenset(group) for root, group in members.items()}
        return self._members
