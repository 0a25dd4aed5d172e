"""Link names and ids to knowledge-graph entities: drugs, diseases, chemical classes.

Example:
    >>> linker = get_linker()  # doctest: +SKIP
    >>> linker.link_disease("chronic myeloid leukaemia").canonical  # doctest: +SKIP
    'MESH:D015464'
    >>> linker.link_drug("imatinb").score < 100  # a typo, accepted with its score  # doctest: +SKIP
    True
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rapidfuzz import fuzz, process

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import InvalidInputError, UnknownEntityError
from kedrec_agent.linking.diseases import DiseaseConcept, DiseaseEquivalences
from kedrec_agent.linking.extract import PatientMentions, extract_mentions
from kedrec_agent.linking.normalize import normalize
from kedrec_agent.linking.vocabulary import EntityKind, Entry, NameIndex, load_or_build

MAX_NAME_CHARS = 500
_DRUG_ID = re.compile(r"^DB\d{5}$", re.IGNORECASE)
_MESH_ID = re.compile(r"^(?:MESH:)?([CD]\d{6,9})$", re.IGNORECASE)
_DOID = re.compile(r"^DOID:(\d+)$", re.IGNORECASE)
_ICD9 = re.compile(r"^(?:ICD-?9(?:-CM)?:\s*)?([VE]?\d{2,3})\.?(\d{0,2})$", re.IGNORECASE)
_ICD9_PREFIX = re.compile(r"^ICD-?9", re.IGNORECASE)
_CAS = re.compile(r"^\d{2,7}-\d{2}-\d$")
_SUGGEST_CUTOFF = 60.0


@dataclass(frozen=True)
class LinkedEntity:
    """A resolved entity.

    Attributes:
        id: ``DB00619`` (drug), ``MESH:D015464`` / ``DOID:8552`` (disease), ``MESH:D010406``
            (substance: a MeSH chemical or drug class, e.g. Penicillins).
        kind: ``"drug"``, ``"disease"`` or ``"substance"``.
        name: the preferred name.
        matched: the vocabulary name (or id) that matched.
        score: 0-100; 100 is an exact match after normalisation or an id.
        canonical: the canonical disease key (diseases); the id otherwise.
        equivalents: every equivalent DOID/MeSH id (diseases); ``(id,)`` otherwise.
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

        Substances (MeSH chemical classes) are not DRKG entities: ``Substance::MESH:…``.
        """
        prefix = {"drug": "Compound", "disease": "Disease", "substance": "Substance"}[self.kind]
        return f"{prefix}::{self.id}"


def _check_text(text: object, limit: int, what: str) -> str:
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be text, got {type(text).__name__}")
    if not text.strip():
        raise InvalidInputError(f"{what} is empty")
    if len(text) > limit:
        raise InvalidInputError(f"{what} is too long ({len(text):,} > {limit:,} characters)")
    return text.strip()


class Linker:
    """Name and id lookup over the bundle's vocabularies (exact first, then fuzzy).

    Args:
        index: the name index (see :meth:`from_settings`).
    """

    accept_score: float = 90.0
    """Fuzzy matches below this score are never accepted (only suggested)."""

    def __init__(self, index: NameIndex) -> None:
        self.index = index
        self._fuzzy_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Linker:
        """Load the cached index of ``settings`` (building it when missing or stale)."""
        index, _ = load_or_build(settings or get_settings())
        return cls(index)

    @staticmethod
    def build_index(settings: Settings, force: bool = False) -> Path:
        """Build the name index into ``settings.cache_dir``; a no-op when it is current."""
        return load_or_build(settings, force=force)[1]

    @cached_property
    def equivalences(self) -> DiseaseEquivalences:
        """DOID <-> MeSH equivalences of the bundle."""
        return DiseaseEquivalences.from_pairs(self.index.xrefs)

    @cached_property
    def _fuzzy_keys(self) -> dict[str, list[str]]:
        return {kind: self.index.keys_of(kind) for kind in ("drug", "disease", "substance")}

    def disease(self, disease_id: str) -> DiseaseConcept:
        """Canonical concept of a disease id (``MESH:D…``, ``D…`` or ``DOID:…``)."""
        match = _MESH_ID.match(disease_id.strip())
        key = f"MESH:{match.group(1).upper()}" if match else disease_id.strip().upper()
        return self.equivalences.concept(key)

    def name_of(self, entity_id: str) -> str | None:
        """Preferred name of a DrugBank, MeSH or DOID id."""
        return self.index.preferred.get(entity_id)

    # --- building entities -------------------------------------------------------------

    def entity(self, entity_id: str, kind: EntityKind, matched: str, score: float) -> LinkedEntity:
        """A :class:`LinkedEntity` for a known id."""
        name = self.index.preferred.get(entity_id, entity_id)
        if kind == "disease":
            concept = self.equivalences.concept(entity_id)
            canonical, equivalents = concept.canonical, tuple(sorted(concept.equivalents))
        else:
            canonical, equivalents = entity_id, (entity_id,)
        return LinkedEntity(entity_id, kind, name, matched, round(score, 1), canonical, equivalents)

    def entries(self, key: str, kind: EntityKind | None = None) -> list[Entry]:
        """Index entries of a normalised key, best first."""
        found = [e for e in self.index.exact.get(key, []) if kind is None or e.kind == kind]
        return sorted(found, key=lambda e: (e.priority, not e.id.startswith("MESH:"), e.id))

    # --- lookups -------------------------------------------------------------------------

    def _by_id(self, text: str, kind: EntityKind | None) -> list[LinkedEntity]:
        kinds = self.index.kinds
        if _DRUG_ID.match(text) and kind in (None, "drug"):
            drug = text.upper()
            return [self.entity(drug, "drug", text, 100.0)] if kinds.get(drug) == "drug" else []
        if (match := _MESH_ID.match(text)) and kind in (None, "disease", "substance"):
            mesh = f"MESH:{match.group(1).upper()}"
            known = kinds.get(mesh) or ("disease" if self._cross_referenced(mesh) else None)
            if known is not None and kind in (None, known):
                return [self.entity(mesh, known, text, 100.0)]
            return []
        if (match := _DOID.match(text)) and kind in (None, "disease"):
            doid = f"DOID:{match.group(1)}"
            known_doid = doid in kinds or self._cross_referenced(doid)
            return [self.entity(doid, "disease", text, 100.0)] if known_doid else []
        if _CAS.match(text) or text.upper() in self.index.codes:
            drug_id = self.index.codes.get(text.upper())
            if drug_id and kind in (None, "drug"):
                return [self.entity(drug_id, "drug", text, 100.0)]
        if (match := _ICD9.match(text)) and kind in (None, "disease"):
            code = match.group(1).upper() + match.group(2)
            if code in self.index.icd9 or _ICD9_PREFIX.match(text):
                return self._icd9(code, text)
        return []

    def _cross_referenced(self, disease_id: str) -> bool:
        return len(self.equivalences.concept(disease_id).equivalents) > 1

    def _icd9(self, code: str, text: str) -> list[LinkedEntity]:
        titles = self.index.icd9.get(code)
        if titles is None:
            return []
        for title in (titles[1], titles[0]):
            mentions = extract_mentions(self, title, kinds=("disease",)).conditions
            if mentions:
                best = max(mentions, key=lambda m: (m.end - m.start, -m.start))
                return [self.entity(best.entity.id, "disease", f"{text}: {title}", 100.0)]
        return []

    def candidates(
        self, text: str, kind: EntityKind | None = None, limit: int = 5
    ) -> list[LinkedEntity]:
        """Ranked entities that ``text`` may name (ids, exact names, then fuzzy matches).

        Includes matches below :attr:`accept_score`, so callers can show suggestions.

        Raises:
            InvalidInputError: empty, non-text or over-long input.
        """
        text = _check_text(text, MAX_NAME_CHARS, "The name")
        found = self._by_id(text, kind)
        key = normalize(text)
        if key:
            found += [self.entity(e.id, e.kind, e.name, 100.0) for e in self.entries(key, kind)]
            if len(found) < limit:
                found += self._fuzzy(key, kind, limit)
        unique: dict[tuple[str, str], LinkedEntity] = {}
        for entity in found:
            unique.setdefault((entity.kind, entity.canonical), entity)
        return list(unique.values())[:limit]

    def _fuzzy(self, key: str, kind: EntityKind | None, limit: int) -> list[LinkedEntity]:
        kinds: tuple[EntityKind, ...] = (kind,) if kind else ("drug", "disease", "substance")
        scored: list[tuple[float, Entry]] = []
        with self._fuzzy_lock:
            for each in kinds:
                hits = process.extract(
                    key,
                    self._fuzzy_keys[each],
                    scorer=fuzz.token_sort_ratio,
                    processor=None,
                    limit=limit * 3,
                    score_cutoff=_SUGGEST_CUTOFF,
                )
                for name, score, _ in hits:
                    entry = self.entries(name, each)[0]
                    scored.append((float(score), entry))
        scored.sort(key=lambda p: (-p[0], p[1].priority, not p[1].id.startswith("MESH:"), p[1].id))
        return [self.entity(e.id, e.kind, e.name, s) for s, e in scored]

    def link(self, text: str, kind: EntityKind) -> LinkedEntity:
        """The best entity of ``kind`` that ``text`` names, if its score is acceptable.

        Raises:
            UnknownEntityError: nothing scores :attr:`accept_score` or more; carries the
                closest names as suggestions.
            InvalidInputError: empty, non-text or over-long input.
        """
        found = self.candidates(text, kind, limit=5)
        if found and found[0].score >= self.accept_score:
            return found[0]
        raise UnknownEntityError(text, kind, [f"{c.name} ({c.id})" for c in found])

    def link_drug(self, text: str) -> LinkedEntity:
        """Link a drug name, synonym, DrugBank id, CAS or UNII code."""
        return self.link(text, "drug")

    def link_disease(self, text: str) -> LinkedEntity:
        """Link a disease name, MeSH id, DOID or ICD-9 code."""
        return self.link(text, "disease")

    def extract(self, note: str) -> PatientMentions:
        """Conditions, medications, allergies, age and sex mentioned in a patient note."""
        return extract_mentions(self, note)


_LINKERS: dict[tuple[Path, Path], Linker] = {}
_LOCK = threading.Lock()


def get_linker(settings: Settings | None = None) -> Linker:
    """The process-wide linker of ``settings`` (loaded once)."""
    settings = settings or get_settings()
    key = (settings.data_dir, settings.home)
    with _LOCK:
        if key not in _LINKERS:
            _LINKERS[key] = Linker.from_settings(settings)
        return _LINKERS[key]
