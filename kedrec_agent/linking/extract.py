"""Mentions of conditions, medications and allergies in a free-text patient note.

A dictionary approach: the longest run of tokens (up to 8) that is a known name wins;
context cues decide where a drug goes ("allergic to" -> allergies, else medications) and
negation cues ("no", "denies", "without") mark a condition as negated. No network, no model.

Example:
    >>> m = get_linker().extract(  # doctest: +SKIP
    ...     "68-year-old man with type 2 diabetes on warfarin, allergic to penicillin")
    >>> [c.entity.canonical for c in m.conditions], m.age, m.sex  # doctest: +SKIP
    (['MESH:D003924'], 68, 'male')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from kedrec_agent.linking.normalize import spans

if TYPE_CHECKING:
    from kedrec_agent.linking.linker import LinkedEntity, Linker
    from kedrec_agent.linking.vocabulary import EntityKind

MAX_NOTE_CHARS = 20_000
_MAX_WORDS = 8
_MIN_CHARS = 4
# Vocabulary names that are everyday words in notes (DrugBank synonyms like 'water' or
# 'air', MeSH headings like 'disease'): never taken from free text.
_BLOCKED = frozenset(
    [
        "water",
        "air",
        "light",
        "control",
        "normal",
        "positive",
        "negative",
        "man",
        "woman",
        "male",
        "female",
        "patient",
        "history",
        "today",
        "daily",
        "care",
        "home",
        "blood",
        "test",
        "acid",
        "salt",
        "sugar",
        "food",
        "day",
        "year",
        "week",
        "month",
        "old",
        "type",
        "mild",
        "severe",
        "acute",
        "chronic",
        "left",
        "right",
        "high",
        "low",
        "disease",
        "syndrome",
        "disorder",
        "infection",
        "medication",
        "drug",
        "allergy",
        "allergic",
        "tablet",
        "oral",
        "dose",
        "unit",
        "body",
        "weight",
        "health",
        "oxygen",
    ]
)
_ALLERGY_CUES = (
    "allergic to", "allergy to", "allergies to", "allergy", "allergies", "intolerant of",
    "intolerance to", "anaphylaxis to", "reaction to", "hypersensitivity to",
)  # fmt: skip
_MEDICATION_CUES = ("on", "taking", "takes", "medication", "medications", "meds", "receiving")
_CONDITION_CUES = ("with", "has", "history of", "diagnosed with", "presents with")
_NEGATION_CUES = ("no", "not", "denies", "denied", "without", "negative for", "free of")
_NKDA = re.compile(r"\b(NKDA|NKA|no known (drug )?allerg(y|ies))\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[.;:\n!?]|,\s*(?:but|and)?\s*|\bbut\b")
_AGE = (
    re.compile(r"\b(\d{1,3})\s*-?\s*(?:years?|yrs?|yo|y/o|y\.o\.)(?:[\s-]*old)?\b", re.I),
    re.compile(r"\bage[d:]?\s*(\d{1,3})\b", re.I),
    re.compile(r"\b(\d{1,3})\s*([MF])\b"),
)
_MALE = re.compile(r"\b(man|male|gentleman|boy|he|his)\b|\b\d{1,3}\s*-?\s*(?:yo\s*)?M\b", re.I)
_FEMALE = re.compile(r"\b(woman|female|lady|girl|she|her)\b|\b\d{1,3}\s*-?\s*(?:yo\s*)?F\b", re.I)


@dataclass(frozen=True)
class Mention:
    """A span of the note linked to an entity."""

    text: str
    start: int
    end: int
    entity: LinkedEntity
    negated: bool = False


@dataclass(frozen=True)
class PatientMentions:
    """What a note says about the patient."""

    conditions: tuple[Mention, ...]
    medications: tuple[Mention, ...]
    allergies: tuple[Mention, ...]
    age: int | None
    sex: Literal["female", "male"] | None
    no_known_allergies: bool = False


def _age(note: str) -> int | None:
    for pattern in _AGE:
        match = pattern.search(note)
        if match and 0 <= int(match.group(1)) <= 120:
            return int(match.group(1))
    return None


def _sex(note: str) -> Literal["female", "male"] | None:
    female, male = _FEMALE.search(note), _MALE.search(note)
    if female and (not male or female.start() < male.start()):
        return "female"
    return "male" if male else None


def _last_cue(before: str, cues: Sequence[str]) -> int:
    """Position in ``before`` (lower-case) where the last of ``cues`` starts, or -1."""
    best = -1
    for cue in cues:
        for match in re.finditer(rf"\b{re.escape(cue)}\b", before):
            best = max(best, match.start())
    return best


def extract_mentions(
    linker: Linker, note: str, kinds: Sequence[EntityKind] = ("drug", "disease", "substance")
) -> PatientMentions:
    """Find the entities a note mentions and sort them into conditions, meds and allergies.

    Raises:
        InvalidInputError: the note is empty, not text, or longer than 20,000 characters.
    """
    from kedrec_agent.linking.linker import _check_text

    note = _check_text(note, MAX_NOTE_CHARS, "The patient description")
    tokens = list(spans(note))
    lower = note.lower()
    found: dict[str, list[Mention]] = {"conditions": [], "medications": [], "allergies": []}
    seen: set[tuple[str, str]] = set()
    i = 0
    while i < len(tokens):
        for width in range(min(_MAX_WORDS, len(tokens) - i), 0, -1):
            key = " ".join(t for t, _, _ in tokens[i : i + width])
            start, end = tokens[i][1], tokens[i + width - 1][2]
            entries = [e for e in linker.entries(key) if e.kind in kinds]
            if not entries or len(key) < _MIN_CHARS or key in _BLOCKED:
                continue
            surface = note[start:end]
            if all(e.abbreviation for e in entries) and not surface.isupper():
                continue
            placed = _place(linker, lower, start, end, surface, entries)
            if placed is None:
                continue
            bucket, mention = placed
            if (bucket, mention.entity.canonical) not in seen:
                seen.add((bucket, mention.entity.canonical))
                found[bucket].append(mention)
            i += width
            break
        else:
            i += 1
    return PatientMentions(
        conditions=tuple(found["conditions"]),
        medications=tuple(found["medications"]),
        allergies=tuple(found["allergies"]),
        age=_age(note),
        sex=_sex(note),
        no_known_allergies=bool(_NKDA.search(note)),
    )


def _place(
    linker: Linker, lower: str, start: int, end: int, surface: str, entries: Sequence[object]
) -> tuple[str, Mention] | None:
    """Decide the bucket of a match from the cues earlier in its sentence."""
    from kedrec_agent.linking.vocabulary import Entry

    typed = [e for e in entries if isinstance(e, Entry)]
    sentence_start = max((m.end() for m in re.finditer(r"[.;\n!?]", lower[:start])), default=0)
    before = lower[sentence_start:start]
    allergy = _last_cue(before, _ALLERGY_CUES)
    other = max(_last_cue(before, _MEDICATION_CUES), _last_cue(before, _CONDITION_CUES))
    in_allergy = allergy >= 0 and allergy > other
    drugs = [e for e in typed if e.kind == "drug"]
    substances = [e for e in typed if e.kind == "substance"]
    diseases = [e for e in typed if e.kind == "disease"]
    if in_allergy and (drugs or substances):
        entry = (drugs or substances)[0]
        bucket = "allergies"
    elif drugs and (not diseases or _last_cue(before, _MEDICATION_CUES) >= 0):
        entry, bucket = drugs[0], "medications"
    elif diseases:
        entry, bucket = diseases[0], "conditions"
    else:
        return None  # a chemical class outside an allergy context says nothing here
    clause_start = max((m.end() for m in _CLAUSE_BREAK.finditer(before)), default=0)
    negated = bucket == "conditions" and _last_cue(before[clause_start:], _NEGATION_CUES) >= 0
    entity = linker.entity(entry.id, entry.kind, entry.name, 100.0)
    return bucket, Mention(surface, start, end, entity, negated)
