"""Linked entities, and the catalogue that makes them from the linker's name index.

:class:`EntityCatalog` is the part of :class:`~kedrec_agent.linking.linker.Linker` that
reads the name index without searching it: loading (or building) the cached index,
preferred names, disease concepts (:class:`~kedrec_agent.linking.diseases.
DiseaseEquivalences`), the entries of a normalised key, and :class:`LinkedEntity` values.
The searches (ids, exact and fuzzy names, notes) are in :mod:`~kedrec_agent.linking.linker`.

Example:
    >>> catalog = EntityCatalog.from_settings()  # doctest: +SKIP
    >>> catalog.entity("DOID:9352", "disease", "DOID:9352", 100).canonical  # doctest: +SKIP
    'MESH:D003924'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Self

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.linking.diseases import DiseaseConcept, DiseaseEquivalences
from kedrec_agent.linking.vocabulary import (
    EntityKind,
    Entry,
    NameIndex,
    ensure_index,
    load_or_build,
)

DRUG_ID = re.compile(r"^DB\d{5}$", re.IGNORECASE)
"""A DrugBank id (``DB00619``)."""
MESH_ID = re.compile(r"^(?:MESH:\s*)?([CD]\d{6,9})$", re.IGNORECASE)
"""A MeSH id with or without its prefix (``MESH:D015464``, ``D015464``); group 1 is the id."""
DOID = re.compile(r"^DOID:\s*(\d+)$", re.IGNORECASE)
"""A Disease Ontology id (``DOID:8552``); group 1 is the number."""


@dataclass(frozen=True)
class LinkedEntity:
    """A resolved entity.

    Attributes:
        id: ``DB00619`` (drug), ``MESH:D015464`` / ``DOID:8552`` (disease), ``MESH:D010406``
            (substance: a MeSH chemical or drug class, e.g. Penicillins).
        kind: ``"drug"``, ``"disease"`` or ``"substance"``.
        name: the preferred name (DrugBank common name, MeSH heading, Hetionet name).
        matched: the vocabulary name (or the id) that matched.
        score: 0-100; 100 is an id or an exact match after normalisation.
        canonical: the canonical disease key (diseases); the id otherwise.
        equivalents: every equivalent DOID/MeSH id, sorted, itself included (diseases);
            ``(id,)`` otherwise.

    Example:
        >>> e = LinkedEntity("DB00619", "drug", "Imatinib", "imatinib", 100.0, "DB00619",
        ...                  ("DB00619",))
        >>> e.drkg_entity
        'Compound::DB00619'
    """

    id: str
    kind: EntityKind
    name: str
    matched: str
    score: float
    canonical: str
    equivalents: tuple[str, ...]

    @property
    def drkg_entity(self) -> str:
        """DRKG entity name: ``Compound::DB00619``, ``Disease::MESH:D015464``.

        Substances (MeSH chemicals and drug classes) are no DRKG entities; they are named
        ``Substance::MESH:…`` so that they never collide with one.
        """
        prefix = {"drug": "Compound", "disease": "Disease", "substance": "Substance"}[self.kind]
        return f"{prefix}::{self.id}"

    @property
    def label(self) -> str:
        """``Name (ID)``, as used in suggestions."""
        return f"{self.name} ({self.id})"


class EntityCatalog:
    """Preferred names, disease concepts and :class:`LinkedEntity` values of a name index.

    The base of :class:`~kedrec_agent.linking.linker.Linker`; read-only and safe to share
    between threads.

    Args:
        index: the name index (see :mod:`kedrec_agent.linking.vocabulary`).

    Example:
        >>> EntityCatalog.from_settings().name_of("DB00619")  # doctest: +SKIP
        'Imatinib'
    """

    def __init__(self, index: NameIndex) -> None:
        self.index = index

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Self:
        """Load the cached index of ``settings``, building it when missing or stale.

        Args:
            settings: default :func:`~kedrec_agent.config.get_settings`.

        Raises:
            DataMissingError: a file of the data bundle is missing.

        Example:
            >>> Linker.from_settings().link_drug("DB00619").name  # doctest: +SKIP
            'Imatinib'
        """
        index, _ = load_or_build(settings or get_settings())
        return cls(index)

    @staticmethod
    def build_index(settings: Settings, force: bool = False) -> Path:
        """Build the name index into ``settings.cache_dir``; a fast no-op when current.

        This is :func:`~kedrec_agent.linking.vocabulary.ensure_index` (arguments, return
        value and errors are documented there): the cache is keyed by the size and mtime of
        every input file and the index version; only that stamp is read when nothing changed.

        Example:
            >>> Linker.build_index(get_settings()).name  # doctest: +SKIP
            'linker-index.pkl'
        """
        return ensure_index(settings, force=force)

    # --- diseases and names -------------------------------------------------------------

    @cached_property
    def equivalences(self) -> DiseaseEquivalences:
        """DOID <-> MeSH equivalences of the bundle."""
        return DiseaseEquivalences.from_pairs(self.index.xrefs)

    def disease(self, disease_id: str) -> DiseaseConcept:
        """Canonical concept of a disease id (``MESH:D…``, ``D…``, ``C…`` or ``DOID:…``).

        An id without cross references is its own concept.

        Raises:
            InvalidInputError: ``disease_id`` is not a MeSH id or a DOID.

        Example:
            >>> get_linker().disease("DOID:8552").canonical  # doctest: +SKIP
            'MESH:D015464'
        """
        return self.equivalences.concept(self._disease_key(disease_id))

    @staticmethod
    def _disease_key(disease_id: str) -> str:
        if isinstance(disease_id, str):
            text = disease_id.strip()
            if match := MESH_ID.match(text):
                return f"MESH:{match.group(1).upper()}"
            if match := DOID.match(text):
                return f"DOID:{match.group(1)}"
        raise InvalidInputError(
            f"Not a disease id: {disease_id!r} (expected MESH:D…, D…, C… or DOID:…)."
        )

    def name_of(self, entity_id: str) -> str | None:
        """Preferred name of a DrugBank, MeSH (with or without prefix) or DOID id.

        Example:
            >>> get_linker().name_of("DB00619")  # doctest: +SKIP
            'Imatinib'
        """
        if not isinstance(entity_id, str):
            return None
        text = entity_id.strip()
        if DRUG_ID.match(text):
            text = text.upper()
        elif match := MESH_ID.match(text):
            text = f"MESH:{match.group(1).upper()}"
        elif match := DOID.match(text):
            text = f"DOID:{match.group(1)}"
        return self.index.preferred.get(text)

    # --- building entities -------------------------------------------------------------

    def entity(self, entity_id: str, kind: EntityKind, matched: str, score: float) -> LinkedEntity:
        """A :class:`LinkedEntity` for a known id (diseases get their equivalents).

        Example:
            >>> get_linker().entity("DOID:9352", "disease", "DOID:9352", 100).canonical
            ... # doctest: +SKIP
            'MESH:D003924'
        """
        name = self.index.preferred.get(entity_id, entity_id)
        if kind == "disease":
            concept = self.equivalences.concept(entity_id)
            canonical, equivalents = concept.canonical, tuple(sorted(concept.equivalents))
        else:
            canonical, equivalents = entity_id, (entity_id,)
        score = min(100.0, max(0.0, round(float(score), 1)))
        return LinkedEntity(entity_id, kind, name, matched, score, canonical, equivalents)

    def entries(self, key: str, kind: EntityKind | None = None) -> tuple[Entry, ...]:
        """Index entries of a normalised key (optionally of one kind), best first."""
        return self.index.lookup(key, kind)
