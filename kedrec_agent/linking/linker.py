"""Link names and ids to knowledge-graph entities: drugs, diseases, chemical classes.

Lookup order for one query:

1. ids: DrugBank (``DB00619``), MeSH (``MESH:D015464`` or ``D015464``), DOID
   (``DOID:8552``), CAS / UNII of a drug, ICD-9 (``ICD9:25000``, ``250.00``; linked
   through the longest disease name in the code's title);
2. exact names after normalisation (case, accents, punctuation, plurals, possessives,
   MeSH comma inversion; see :mod:`kedrec_agent.linking.normalize`), score 100; a drug
   name followed by salt or release words ("metformin HCl ER") is its drug;
3. fuzzy names: rapidfuzz ``token_sort_ratio`` on normalised keys. A fuzzy match is
   *accepted* only when it scores at least :attr:`Linker.accept_score` **and** agrees with
   the query on every number and every one- or two-letter token (so ``type 3 diabetes`` or
   ``hepatitis e`` never silently become ``type 2 diabetes`` or ``hepatitis b``), and when
   no other entity ties with it;
4. suggestions: weaker fuzzy matches and names that contain every word of the query
   (``diabetes`` -> ``Diabetes Mellitus``), shown but never accepted.

Diseases carry their canonical key and every equivalent DOID / MeSH id
(:class:`~kedrec_agent.linking.diseases.DiseaseEquivalences`).

Example:
    >>> linker = get_linker()  # doctest: +SKIP
    >>> linker.link_disease("chronic myeloid leukaemia").canonical  # doctest: +SKIP
    'MESH:D015464'
    >>> linker.link_drug("imatinb").score < 100  # a typo, accepted with its score  # doctest: +SKIP
    True
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rapidfuzz import fuzz, process

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import InvalidInputError, UnknownEntityError
from kedrec_agent.linking.diseases import DiseaseConcept, DiseaseEquivalences
from kedrec_agent.linking.extract import PatientMentions, extract_mentions, find_names
from kedrec_agent.linking.normalize import normalize
from kedrec_agent.linking.vocabulary import (
    KINDS,
    EntityKind,
    Entry,
    NameIndex,
    ensure_index,
    load_or_build,
)

__all__ = ["EntityKind", "LinkedEntity", "Linker", "check_text", "get_linker"]

MAX_NAME_CHARS = 500
MAX_CANDIDATES = 50
SUGGEST_SCORE = 70.0
"""Fuzzy matches from this score on are suggested (never accepted below accept_score)."""
_CONTAINMENT_WEIGHT = 0.85
_CONTAINMENT_SCAN = 5000

_DRUG_ID = re.compile(r"^DB\d{5}$", re.IGNORECASE)
_MESH_ID = re.compile(r"^(?:MESH:\s*)?([CD]\d{6,9})$", re.IGNORECASE)
_DOID = re.compile(r"^DOID:\s*(\d+)$", re.IGNORECASE)
_ICD9_PREFIXED = re.compile(r"^ICD[-_ ]?9(?:[-_ ]?CM)?\s*:?\s*([VE]?\d[\d.]*)$", re.IGNORECASE)
_ICD9_BARE = re.compile(r"^([VE]?\d{3,5}|[VE]?\d{2,3}\.\d{1,2})$", re.IGNORECASE)
_CAS = re.compile(r"^\d{2,7}-\d{2}-\d$")
_UNII = re.compile(r"^[A-Z0-9]{10}$", re.IGNORECASE)
_KIND_ORDER = {kind: rank for rank, kind in enumerate(KINDS)}
_FUNCTION_WORDS = frozenset(["of", "in", "on", "to", "by", "at", "or", "an", "a"])
# Trailing words of a prescription that do not change the drug ("metformin HCl ER").
_SALT_WORDS = frozenset(
    normalize(word)
    for word in (
        *("hydrochloride", "dihydrochloride", "hcl", "hydrobromide", "hbr", "sodium"),
        *("potassium", "calcium", "magnesium", "mesylate", "besylate", "maleate", "fumarate"),
        *("tartrate", "succinate", "citrate", "sulfate", "sulphate", "phosphate", "acetate"),
        *("bromide", "chloride", "nitrate", "lactate", "gluconate", "hyclate", "monohydrate"),
        *("dihydrate", "trihydrate", "anhydrous", "er", "xr", "sr", "cr", "xl", "dr", "la"),
        *("odt", "ir"),
    )
)


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


def check_text(text: object, limit: int, what: str) -> str:
    """Validate user text: a non-empty ``str`` of at most ``limit`` characters.

    The text itself never goes into the error message (it may be patient data).

    Args:
        text: the value to check.
        limit: the largest accepted length.
        what: how the message names the value (``"The name"``).

    Returns:
        ``text`` unchanged.

    Raises:
        InvalidInputError: not a ``str``, empty or blank, or too long.

    Example:
        >>> check_text("imatinib", 500, "The name")
        'imatinib'
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be text, got {type(text).__name__}.")
    if not text.strip():
        raise InvalidInputError(f"{what} is empty.")
    if len(text) > limit:
        raise InvalidInputError(
            f"{what} is too long ({len(text):,} characters; at most {limit:,} are accepted)."
        )
    return text


def _check_kind(kind: object) -> EntityKind:
    for known in KINDS:
        if kind == known:
            return known
    raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")


def _discriminators(key: str) -> Counter[str]:
    """Characters of the tokens a typo must not change: numbers and 1-2 letter tokens.

    Function words ("of", "in") do not count: "neoplasm of brain" may match "brain
    neoplasms".
    """
    return Counter(
        "".join(
            t
            for t in key.split()
            if t not in _FUNCTION_WORDS and (len(t) <= 2 or any(ch.isdigit() for ch in t))
        )
    )


class Linker:
    """Name and id lookup over the bundle's vocabularies (ids, exact names, then fuzzy).

    Build one with :meth:`from_settings` or :func:`get_linker`; the instance is read-only
    and safe to share between threads.

    Args:
        index: the name index (see :mod:`kedrec_agent.linking.vocabulary`).

    Example:
        >>> linker = Linker.from_settings()  # doctest: +SKIP
        >>> [c.label for c in linker.candidates("metformine", "drug", 1)]  # doctest: +SKIP
        ['Metformin (DB00331)']
    """

    accept_score: float = 90.0
    """Fuzzy matches below this score are never accepted (only suggested)."""

    def __init__(self, index: NameIndex) -> None:
        self.index = index

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Linker:
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

        The cache is keyed by the size and mtime of every input file and the index
        version; only that stamp is read when nothing changed.

        Args:
            settings: where the bundle is and where the cache goes.
            force: rebuild even when the cache is current.

        Returns:
            The path of the cache file.

        Raises:
            DataMissingError: a file of the data bundle is missing.

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
            if match := _MESH_ID.match(text):
                return f"MESH:{match.group(1).upper()}"
            if match := _DOID.match(text):
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
        if _DRUG_ID.match(text):
            text = text.upper()
        elif match := _MESH_ID.match(text):
            text = f"MESH:{match.group(1).upper()}"
        elif match := _DOID.match(text):
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

    # --- lookups -------------------------------------------------------------------------

    def _by_id(self, text: str, kind: EntityKind | None) -> list[LinkedEntity]:
        kinds = self.index.kinds
        if _DRUG_ID.match(text):
            drug = text.upper()
            if kind in (None, "drug") and kinds.get(drug) == "drug":
                return [self.entity(drug, "drug", text, 100.0)]
            return []
        if match := _MESH_ID.match(text):
            mesh = f"MESH:{match.group(1).upper()}"
            known = kinds.get(mesh) or ("disease" if self._cross_referenced(mesh) else None)
            if known is not None and kind in (None, known):
                return [self.entity(mesh, known, text, 100.0)]
            return []
        if match := _DOID.match(text):
            doid = f"DOID:{match.group(1)}"
            if kind in (None, "disease") and (doid in kinds or self._cross_referenced(doid)):
                return [self.entity(doid, "disease", text, 100.0)]
            return []
        if _CAS.match(text) or _UNII.match(text):
            drug_id = self.index.codes.get(text.upper())
            if drug_id is not None:
                return [self.entity(drug_id, "drug", text, 100.0)] if kind in (None, "drug") else []
        if kind in (None, "disease"):
            if match := _ICD9_PREFIXED.match(text):
                return self._icd9(match.group(1), text, prefixed=True)
            if _ICD9_BARE.match(text):
                return self._icd9(text, text, prefixed=False)
        return []

    def _cross_referenced(self, disease_id: str) -> bool:
        return len(self.equivalences.concept(disease_id).equivalents) > 1

    def _icd9_code(self, raw: str, prefixed: bool) -> str | None:
        code = raw.replace(".", "").upper()
        if code in self.index.icd9:
            return code
        if not prefixed:
            return None
        # A category code (ICD9:250) stands for its first listed sub-code (25000).
        codes = self._icd9_codes
        at = bisect.bisect_left(codes, code)
        return codes[at] if at < len(codes) and codes[at].startswith(code) else None

    @cached_property
    def _icd9_codes(self) -> list[str]:
        return sorted(self.index.icd9)

    def _icd9(self, raw: str, text: str, prefixed: bool) -> list[LinkedEntity]:
        code = self._icd9_code(raw, prefixed)
        if code is None:
            return []
        short, long = self.index.icd9[code]
        for title in (long, short):
            found = [m for m in find_names(self, title, kinds=("disease",)) if not m.negated]
            if found:
                best = max(found, key=lambda m: (m.end - m.start, -m.start))
                entry = best.entries[0]
                return [self.entity(entry.id, "disease", f"ICD9:{code} {title}", 100.0)]
        return []

    def candidates(
        self, text: str, kind: EntityKind | None = None, limit: int = 5
    ) -> list[LinkedEntity]:
        """Ranked entities that ``text`` may name: ids, exact names, then fuzzy matches.

        Matches that :meth:`link` would accept come first (best score first); then
        suggestions below :attr:`accept_score`, ordered by
        ``max(token_sort_ratio, 0.85 * token_set_ratio)`` so that names containing every
        word of the query rank high; their ``score`` stays the strict ``token_sort_ratio``.
        One entry per entity (a disease's equivalent ids count as one entity).

        Args:
            text: a name or an id (at most 500 characters).
            kind: ``"drug"``, ``"disease"``, ``"substance"`` or None for all.
            limit: at most this many candidates (1-50).

        Returns:
            Candidates best first; empty when nothing is similar.

        Raises:
            InvalidInputError: empty, non-text or over-long input, unknown kind, bad limit.

        Example:
            >>> [c.id for c in get_linker().candidates("imatinb", "drug", 1)]  # doctest: +SKIP
            ['DB00619']
        """
        text = check_text(text, MAX_NAME_CHARS, "The name").strip()
        kind = None if kind is None else _check_kind(kind)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit must be a positive integer; got {limit!r}.")
        limit = min(limit, MAX_CANDIDATES)
        found = self._exact(text, kind)
        key = normalize(text)
        if key:
            found += self._fuzzy(key, kind, limit)
        return self._rank(found, key)[:limit]

    def _exact(self, text: str, kind: EntityKind | None) -> list[LinkedEntity]:
        found = self._by_id(text, kind)
        key = normalize(text)
        # drugs, then diseases, then substances; the index order within a kind (stable sort)
        entries = sorted(self.entries(key, kind), key=lambda e: _KIND_ORDER[e.kind])
        if not entries and kind in (None, "drug"):
            entries = list(self._without_salt(key))
        found += [self.entity(e.id, e.kind, e.name, 100.0) for e in entries]
        return found

    def _without_salt(self, key: str) -> tuple[Entry, ...]:
        """Drugs named by ``key`` less trailing salt or release words ("metformin hcl")."""
        words = key.split()
        while len(words) > 1 and words[-1] in _SALT_WORDS:
            words.pop()
            entries = self.entries(" ".join(words), "drug")
            if entries:
                return entries
        return ()

    def _rank(self, found: Iterable[LinkedEntity], key: str) -> list[LinkedEntity]:
        unique: dict[tuple[str, str], LinkedEntity] = {}
        for entity in found:
            known = unique.get((entity.kind, entity.canonical))
            if known is None or entity.score > known.score:
                unique[(entity.kind, entity.canonical)] = entity
        order = {k: i for i, k in enumerate(unique)}

        def rank(entity: LinkedEntity) -> tuple[int, float, int]:
            position = order[(entity.kind, entity.canonical)]
            if entity.score >= self.accept_score:
                return (0, -entity.score, position)
            matched = normalize(entity.matched)
            looser = _CONTAINMENT_WEIGHT * fuzz.token_set_ratio(key, matched, processor=None)
            return (1, -max(entity.score, looser), position)

        return sorted(unique.values(), key=rank)

    def _fuzzy(self, key: str, kind: EntityKind | None, limit: int) -> list[LinkedEntity]:
        kinds: tuple[EntityKind, ...] = (kind,) if kind else KINDS
        # ratio = 2*common/(a+b) <= 2*min/(a+b): names outside this length window cannot
        # reach SUGGEST_SCORE, so they are never scored.
        low = len(key) * SUGGEST_SCORE / (200 - SUGGEST_SCORE)
        high = len(key) * (200 - SUGGEST_SCORE) / SUGGEST_SCORE
        scored: list[tuple[float, Entry]] = []
        for each in kinds:
            keys = self.index.fuzzy.get(each, [])
            start = bisect.bisect_left(keys, low, key=len)
            stop = bisect.bisect_right(keys, high, key=len)
            hits = process.extract(
                key,
                keys[start:stop],
                scorer=fuzz.token_sort_ratio,
                processor=None,
                limit=limit * 4,
                score_cutoff=SUGGEST_SCORE,
            )
            for name, score, _ in hits:
                entry = self.entries(name, each)[0]
                if score >= self.accept_score and _discriminators(name) != _discriminators(key):
                    score = min(score, self.accept_score - 0.1)  # never accepted: see module doc
                scored.append((float(score), entry))
            scored += [(score, entry) for entry, score in self._containing(key, each, limit)]
        return [self.entity(e.id, e.kind, e.name, s) for s, e in scored]

    def _containing(self, key: str, kind: EntityKind, limit: int) -> list[tuple[Entry, float]]:
        """Shortest names holding every word of ``key`` (suggestions for a partial name)."""
        words = set(key.split())
        postings = self.index.postings.get(kind, {})
        lists = [postings.get(w) for w in words if len(w) >= 3]
        if not lists or any(p is None for p in lists) or len(words) > 6:
            return []
        shortest = min((p for p in lists if p is not None), key=len)
        keys = self.index.fuzzy[kind]
        found: list[tuple[Entry, float]] = []
        for position in shortest[:_CONTAINMENT_SCAN]:
            name = keys[position]
            if name != key and words <= set(name.split()):
                score = float(fuzz.token_sort_ratio(key, name, processor=None))
                found.append((self.entries(name, kind)[0], min(score, self.accept_score - 0.1)))
                if len(found) >= limit:
                    break
        return found

    def link(self, text: str, kind: EntityKind) -> LinkedEntity:
        """The best entity of ``kind`` that ``text`` names, if its score is acceptable.

        Args:
            text: a name, synonym or id (at most 500 characters).
            kind: ``"drug"``, ``"disease"`` or ``"substance"``.

        Returns:
            An exact or id match (score 100), else the best fuzzy match scoring at least
            :attr:`accept_score`.

        Raises:
            UnknownEntityError: nothing acceptable, or two entities tie for the best fuzzy
                match; carries the closest names (``"Imatinib (DB00619)"``) as suggestions.
            InvalidInputError: empty, non-text or over-long input, or an unknown kind.

        Example:
            >>> get_linker().link("Gleevec", "drug")  # doctest: +SKIP
            Traceback (most recent call last):
            kedrec_agent.errors.UnknownEntityError: Unknown drug: 'Gleevec'. ...
        """
        text = check_text(text, MAX_NAME_CHARS, "The name").strip()
        checked = _check_kind(kind)
        exact = self._exact(text, checked)
        if exact:
            return exact[0]
        found = self.candidates(text, checked, limit=5)
        accepted = [c for c in found if c.score >= self.accept_score]
        if accepted and (len(accepted) == 1 or accepted[1].score < accepted[0].score):
            return accepted[0]
        raise UnknownEntityError(text, checked, _labels(found))

    def link_drug(self, text: str) -> LinkedEntity:
        """Link a drug name, synonym, DrugBank id, CAS or UNII code.

        Example:
            >>> get_linker().link_drug("aspirin").id  # doctest: +SKIP
            'DB00945'
        """
        return self.link(text, "drug")

    def link_disease(self, text: str) -> LinkedEntity:
        """Link a disease name, MeSH id, DOID or ICD-9 code.

        Example:
            >>> get_linker().link_disease("DOID:9352").canonical  # doctest: +SKIP
            'MESH:D003924'
        """
        return self.link(text, "disease")

    def extract(self, note: str) -> PatientMentions:
        """Conditions, medications, allergies, age and sex mentioned in a patient note.

        See :mod:`kedrec_agent.linking.extract` for the rules.

        Raises:
            InvalidInputError: the note is empty, not text, or over 20,000 characters.

        Example:
            >>> get_linker().extract("72 yo F on warfarin").medications[0].entity.id
            ... # doctest: +SKIP
            'DB00682'
        """
        return extract_mentions(self, note)


def _labels(found: Sequence[LinkedEntity]) -> list[str]:
    return list(dict.fromkeys(c.label for c in found))


_LINKERS: dict[Settings, Linker] = {}
_LOCK = threading.Lock()


def get_linker(settings: Settings | None = None) -> Linker:
    """The process-wide linker of ``settings`` (loaded once per settings).

    Args:
        settings: default :func:`~kedrec_agent.config.get_settings`.

    Example:
        >>> get_linker() is get_linker()  # doctest: +SKIP
        True
    """
    settings = settings or get_settings()
    with _LOCK:
        linker = _LINKERS.get(settings)
        if linker is None:
            linker = _LINKERS[settings] = Linker.from_settings(settings)
        return linker
