"""Link names and ids to knowledge-graph entities: drugs, diseases, chemical classes.

Lookup order for one query:

1. ids: DrugBank (``DB00619``), MeSH (``MESH:D015464`` or ``D015464``), DOID
   (``DOID:8552``), CAS / UNII of a drug, ICD-9 with or without its dot or prefix
   (``ICD9:25000``, ``ICD9:250.00``, ``250.00``, ``V45.81``, ``E8781``; read by
   :mod:`~kedrec_agent.linking.icd9`, linked through the longest disease name in the
   code's title; a category such as ``ICD9:250`` through its first sub-code, see
   :meth:`Linker._icd9`);
2. exact names after normalisation (case, accents, punctuation, plurals, possessives,
   MeSH comma inversion; see :mod:`kedrec_agent.linking.normalize`), score 100; a salt,
   hydrate or release form that is no name itself ("metformin HCl ER", "amlodipine
   besylate") is its parent drug (:mod:`~kedrec_agent.linking.forms`);
3. fuzzy names: rapidfuzz ``token_sort_ratio`` on normalised keys. A fuzzy match is
   *accepted* only when it scores at least :attr:`Linker.accept_score` **and** agrees with
   the query on every number and every one- or two-letter token (so ``type 3 diabetes`` or
   ``hepatitis e`` never silently become ``type 2 diabetes`` or ``hepatitis b``), a drug
   name's match also holds without its salt words, and when no other entity ties with it;
   when nothing is acceptable, a one-word drug name less its salt words is matched as well
   ("amlodipin besylate" -> Amlodipine);
4. suggestions: weaker fuzzy matches and names that contain every word of the query
   (``diabetes`` -> ``Diabetes Mellitus``), shown but never accepted.

Diseases carry their canonical key and every equivalent DOID / MeSH id
(:class:`~kedrec_agent.linking.diseases.DiseaseEquivalences`). What the linker reads of
its index without searching it (loading, preferred names, disease concepts, building a
:class:`~kedrec_agent.linking.entities.LinkedEntity`) is its base class,
:class:`~kedrec_agent.linking.entities.EntityCatalog`; notes are read by
:mod:`~kedrec_agent.linking.extract`.

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
from functools import cached_property

from rapidfuzz import fuzz, process

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import InvalidInputError, UnknownEntityError
from kedrec_agent.linking.entities import DOID, DRUG_ID, MESH_ID, EntityCatalog, LinkedEntity
from kedrec_agent.linking.extract import PatientMentions, extract_mentions, find_names
from kedrec_agent.linking.forms import inactive_reason, parent_keys, salt_free
from kedrec_agent.linking.icd9 import Icd9Code, dotted, parse_icd9
from kedrec_agent.linking.normalize import check_text, normalize
from kedrec_agent.linking.vocabulary import KINDS, EntityKind, Entry

__all__ = ["EntityKind", "LinkedEntity", "Linker", "check_text", "get_linker"]

MAX_NAME_CHARS = 500
MAX_CANDIDATES = 50
SUGGEST_SCORE = 70.0
"""Fuzzy matches from this score on are suggested (never accepted below accept_score)."""
_CONTAINMENT_WEIGHT = 0.85
_CONTAINMENT_SCAN = 5000

_CAS = re.compile(r"^\d{2,7}-\d{2}-\d$")
_UNII = re.compile(r"^[A-Z0-9]{10}$", re.IGNORECASE)
_FAMILY_HISTORY = re.compile(r"^\s*family\s+history\b", re.IGNORECASE)
_KIND_ORDER = {kind: rank for rank, kind in enumerate(KINDS)}
_FUNCTION_WORDS = frozenset(["of", "in", "on", "to", "by", "at", "or", "an", "a"])


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


class Linker(EntityCatalog):
    """Name and id lookup over the bundle's vocabularies (ids, exact names, then fuzzy).

    Build one with :meth:`from_settings` or :func:`get_linker`; the instance is read-only
    and safe to share between threads. Loading, preferred names, disease concepts and
    entity values come from :class:`~kedrec_agent.linking.entities.EntityCatalog`.

    Args:
        index: the name index (see :mod:`kedrec_agent.linking.vocabulary`).

    Example:
        >>> linker = Linker.from_settings()  # doctest: +SKIP
        >>> [c.label for c in linker.candidates("metformine", "drug", 1)]  # doctest: +SKIP
        ['Metformin (DB00331)']
    """

    accept_score: float = 90.0
    """Fuzzy matches below this score are never accepted (only suggested)."""

    # --- lookups -------------------------------------------------------------------------

    def _by_id(self, text: str, kind: EntityKind | None) -> list[LinkedEntity]:
        kinds = self.index.kinds
        if DRUG_ID.match(text):
            drug = text.upper()
            if kind in (None, "drug") and kinds.get(drug) == "drug":
                return [self.entity(drug, "drug", text, 100.0)]
            return []
        if match := MESH_ID.match(text):
            mesh = f"MESH:{match.group(1).upper()}"
            known = kinds.get(mesh) or ("disease" if self._cross_referenced(mesh) else None)
            if known is not None and kind in (None, known):
                return [self.entity(mesh, known, text, 100.0)]
            return []
        if match := DOID.match(text):
            doid = f"DOID:{match.group(1)}"
            if kind in (None, "disease") and (doid in kinds or self._cross_referenced(doid)):
                return [self.entity(doid, "disease", text, 100.0)]
            return []
        if _CAS.match(text) or _UNII.match(text):
            drug_id = self.index.codes.get(text.upper())
            if drug_id is not None:
                return [self.entity(drug_id, "drug", text, 100.0)] if kind in (None, "drug") else []
        if kind in (None, "disease") and (code := parse_icd9(text)) is not None:
            return self._icd9(code)
        return []

    def _cross_referenced(self, disease_id: str) -> bool:
        return len(self.equivalences.concept(disease_id).equivalents) > 1

    def _icd9_keys(self, code: Icd9Code) -> list[str]:
        """The listed code, or (written explicitly) the sub-codes of a category, in order."""
        if code.key in self.index.icd9:
            return [code.key]
        if not code.explicit:
            return []
        codes = self._icd9_codes
        at = bisect.bisect_left(codes, code.key)
        stop = at
        while stop < len(codes) and codes[stop].startswith(code.key):
            stop += 1
        return codes[at:stop]

    @cached_property
    def _icd9_codes(self) -> list[str]:
        return sorted(self.index.icd9)

    def _icd9(self, code: Icd9Code) -> list[LinkedEntity]:
        """The disease named in a code's title.

        The longest disease name in the long title, else in the short one; a name that the
        title negates does not count, nor does a "Family history of ..." code (V16-V19):
        its disease is a relative's, not the patient's. A category (``ICD9:250``, or
        MIMIC-III's pre-2005 ``2765``, split since into ``27650``-``27652``) links through
        its first listed sub-code; when that names no disease ("Volume depletion,
        unspecified"), through the first later sub-code whose whole title is a disease name
        (``27651`` "Dehydration"), never through a name inside a later, more specific
        title ("Post-traumatic seroma" of ``7299``).
        """
        for rank, key in enumerate(self._icd9_keys(code)):
            short, long = self.index.icd9[key]
            if _FAMILY_HISTORY.match(long):
                continue
            for title in (long, short):
                found = [m for m in find_names(self, title, kinds=("disease",)) if not m.negated]
                if rank and not any(m.key == normalize(title) for m in found):
                    found = []  # a later sub-code counts only when it is a disease by name
                if found:
                    best = max(found, key=lambda m: (m.end - m.start, -m.start))
                    entry = best.entries[0]
                    return [self.entity(entry.id, "disease", f"ICD9:{key} {title}", 100.0)]
        return []

    def icd9_titles(self, text: str) -> list[tuple[str, str]]:
        """(dotted code, long title) of the ICD-9 code ``text`` writes, or of its sub-codes.

        Empty when ``text`` is no ICD-9 code or the table does not list it. For messages
        about a code whose titles name no disease.

        Example:
            >>> get_linker().icd9_titles("ICD9:V4581")  # doctest: +SKIP
            [('V45.81', 'Aortocoronary bypass status')]
        """
        code = parse_icd9(text) if isinstance(text, str) else None
        if code is None:
            return []
        return [(dotted(key), self.index.icd9[key][1]) for key in self._icd9_keys(code)]

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
            if kind in (None, "drug") and all(c.score < self.accept_score for c in found):
                found += self._parent_fuzzy(key, limit)
        return self._rank(found, key)[:limit]

    def _exact(self, text: str, kind: EntityKind | None) -> list[LinkedEntity]:
        found = self._by_id(text, kind)
        key = normalize(text)
        # drugs, then diseases, then substances; the index order within a kind (stable sort)
        entries = sorted(self.entries(key, kind), key=lambda e: _KIND_ORDER[e.kind])
        if not entries and kind in (None, "drug"):
            entries = list(self._parent_drug(key))
        found += [self.entity(e.id, e.kind, e.name, 100.0) for e in entries]
        return found

    def exact(self, text: str, kind: EntityKind) -> LinkedEntity | None:
        """The entity of ``kind`` that ``text`` names exactly (an id or a normalised name), or None.

        No fuzzy matching, so it is cheap enough for whole vocabularies (e.g. side-effect
        terms); the first of several exact matches, as :meth:`link` would take.

        Example:
            >>> get_linker().exact("Renal failure acute", "disease").name  # doctest: +SKIP
            'Acute Kidney Injury'
        """
        text = check_text(text, MAX_NAME_CHARS, "The name").strip()
        found = self._exact(text, _check_kind(kind))
        return found[0] if found else None

    def inactive_reason(self, entity_id: str) -> str | None:
        """Why the entity ``entity_id`` is no medication (an ion, element or excipient).

        See :func:`~kedrec_agent.linking.forms.inactive_reason`; None for anything else.

        Example:
            >>> get_linker().inactive_reason("DB14546")  # Sulfate ion  # doctest: +SKIP
            'an ion'
        """
        if self.index.kinds.get(entity_id) != "drug":
            return None
        return inactive_reason(self.index.preferred.get(entity_id, ""))

    def _parent_drug(self, key: str) -> tuple[Entry, ...]:
        """Medications that a salt, hydrate or release form names ("metformin hcl").

        The first of :func:`~kedrec_agent.linking.forms.parent_keys` that names a drug
        which is a medication: a salt word alone ("sulfate") never decides.
        """
        for parent in parent_keys(key):
            entries = tuple(
                e for e in self.entries(parent, "drug") if self.inactive_reason(e.id) is None
            )
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
                if score >= self.accept_score and (
                    _discriminators(name) != _discriminators(key)
                    or (each == "drug" and not self._same_parent(key, name))
                ):
                    score = min(score, self.accept_score - 0.1)  # never accepted: see module doc
                scored.append((float(score), entry))
            scored += [(score, entry) for entry, score in self._containing(key, each, limit)]
        return [self.entity(e.id, e.kind, e.name, s) for s, e in scored]

    def _parent_fuzzy(self, key: str, limit: int) -> list[LinkedEntity]:
        """Fuzzy medications for a one-word drug name with salt words ("amlodipin besylate").

        Tried only when nothing else is acceptable, and only when the salt words leave one
        word (what is left of a longer name, "methylprednisolone succ", may be a fragment
        that the names inside the value explain better); an ion, element or excipient
        never comes out of it.
        """
        parent = salt_free(key)
        if not parent or parent == key or " " in parent:
            return []
        found = self._fuzzy(parent, "drug", limit)
        return [c for c in found if self.inactive_reason(c.id) is None]

    def _same_parent(self, key: str, name: str) -> bool:
        """Whether a fuzzy drug match holds without the salt words of either side.

        A name made of salt words only ("magnesium sulfate") is compared whole; otherwise
        the words that are left must match at :attr:`accept_score` (``token_set_ratio``), so
        "procainamide hydrochloride" is no typo of "procaine hydrochloride" and a query of
        salt words only never matches a drug named otherwise.
        """
        query, target = salt_free(key), salt_free(name)
        if (query == key and target == name) or not target:
            return True
        if not query:
            return False
        return fuzz.token_set_ratio(query, target, processor=None) >= self.accept_score

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
