"""Mentions of conditions, medications and allergies in a free-text patient note.

A dictionary approach, no network and no model:

* **Names.** The note is tokenised like the vocabulary (:mod:`~kedrec_agent.linking.
  normalize`); at each token the longest run of up to 8 tokens that is a known name wins.
  Runs never cross a sentence break (``. ; ! ?`` or a line break). In free text a name
  must have at least 4 characters, must not be an everyday word (:data:`BLOCKED`), and an
  all-capitals abbreviation (``COPD``) must be written in capitals; abbreviations of up to
  3 letters from the vocabularies (``CO``, ``NO``, ``ASA``) are ignored, curated ones
  (``HTN``, ``MI``) are taken when written in capitals.
* **Cues.** Within a sentence, the last of the allergy cues ("allergic to", "allergies",
  "intolerant of", "anaphylaxis to"...), medication cues ("on", "taking", "meds") and
  condition cues ("with", "has", "history of") before a name sets its context; "allergy"
  or "intolerance" right after a name ("penicillin allergy") makes it an allergy. A
  heading alone on its line ("Allergies:") sets the context of the lines below it up to a
  blank line or the next heading. A name inside an allergy cue ("anaphylaxis to") is a
  reaction and is left out.
* **Buckets.** In an allergy context a drug, else a substance (a MeSH drug class such as
  Penicillins), is an allergy; a disease there is a reaction and is left out. Elsewhere a
  drug is a medication and a disease a condition; a name that is both follows the last
  medication / condition cue (a condition when there is none); a substance alone is left
  out.
* **Negation.** A negation cue ("no", "denies", "without", "negative for", "no history of",
  "stopped", "no longer"...) earlier in the sentence, at most 8 words before the name and
  with no terminating word ("but", "has", "with", another cue...) in between, marks the
  mention ``negated``. "NKDA", "no known (drug) allergies", "allergies: none" set
  ``no_known_allergies``.
* **Family history and requests.** Names after "family history", "mother", "father"...
  in the same sentence (up to a terminating word) are about someone else; names after a
  request ("recommend", "suggest", "consider", "switch to"...) are proposals, not the
  patient's treatment: drugs there are left out (a note saying "recommend imatinib" must
  not make imatinib a current medication), diseases are kept ("should we start metformin
  for her diabetes").
* **Duplicates.** One mention per entity and bucket: the first affirmed one (else the
  first).

Age ("68-year-old", "68 yo", "68 y/o", "age 68", "68M" at the start of a sentence) and sex
(man / woman / male / female / "Sex: F" / "68F", else the majority of he/she pronouns) are
read with regular expressions. Nothing here logs or echoes the note.

Example:
    >>> m = get_linker().extract(  # doctest: +SKIP
    ...     "68-year-old man with type 2 diabetes on warfarin, allergic to penicillin")
    >>> [c.entity.canonical for c in m.conditions], m.age, m.sex  # doctest: +SKIP
    (['MESH:D003924'], 68, 'male')
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from kedrec_agent.linking.normalize import normalize, spans

if TYPE_CHECKING:
    from kedrec_agent.linking.linker import LinkedEntity, Linker
    from kedrec_agent.linking.vocabulary import EntityKind, Entry

MAX_NOTE_CHARS = 20_000
MAX_WORDS = 8
MIN_CHARS = 4
NEGATION_WINDOW = 8
"""A negation cue reaches at most this many words ahead."""

# Vocabulary names (DrugBank synonyms, MeSH headings, symptoms) that are everyday words in
# notes: never taken from free text (exact linking still knows them).
BLOCKED = frozenset(
    normalize(word)
    for word in (
        *("water", "air", "light", "control", "normal", "positive", "negative", "man"),
        *("woman", "male", "female", "patient", "history", "today", "daily", "care", "home"),
        *("blood", "test", "acid", "salt", "sugar", "food", "day", "year", "week", "month"),
        *("old", "type", "mild", "severe", "acute", "chronic", "left", "right", "high", "low"),
        *("disease", "syndrome", "disorder", "infection", "progression", "sign", "symptom"),
        *("medication", "medicine", "drug", "allergy", "allergic", "tablet", "capsule"),
        *("oral", "dose", "unit", "body", "weight", "health", "oxygen", "alcohol", "level"),
        # lab analytes: "glucose 180", "sodium 134" are results, not medications
        *("glucose", "sodium", "potassium", "calcium", "magnesium", "chloride", "creatinine"),
        *("hemoglobin", "albumin", "bilirubin", "urea", "phosphate", "bicarbonate"),
        *("lactate", "troponin", "cholesterol", "triglyceride"),
        # adjectives that some tables list as disease names
        *("cardiovascular", "gastrointestinal", "hematologic", "cardiac", "renal", "hepatic"),
        *("pulmonary", "vascular", "block"),
    )
)
# A name that starts or ends with one of these is a fragment ("pain and").
_EDGE_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "or",
        "of",
        "the",
        "with",
        "in",
        "on",
        "for",
        "to",
        "by",
        "at",
        "from",
        "no",
        "not",
    ]
)

_PHRASES: dict[str, tuple[str, ...]] = {
    # order inside one regex alternation matters: longer phrases first (see _CUES)
    "nkda": (
        r"nkda",
        r"nka",
        r"no\s+known\s+(?:drug\s+|medication\s+)?allerg(?:y|ies)",
        r"no\s+(?:drug\s+|medication\s+)?allergies",
        r"allergies\s*:\s*(?:none|nil|nkda|no\s+known)",
        r"denies\s+(?:any\s+)?(?:drug\s+)?allergies",
    ),
    "pseudo": (
        r"no\s+(?:significant\s+)?change",
        r"no\s+increase",
        r"no\s+decrease",
        r"no\s+further",
        r"not\s+only",
        r"not\s+necessarily",
        r"without\s+difficulty",
        r"no\s+longer\s+(?:has|have)\s+no",
    ),
    "negation": (
        r"no\s+(?:prior\s+|past\s+|previous\s+)?(?:history|hx|h/o)\s+of",
        r"no\s+evidence\s+of",
        r"no\s+signs?\s+of",
        r"negative\s+for",
        r"free\s+of",
        r"ruled\s+out",
        r"rules\s+out",
        r"no\s+longer",
        r"denies",
        r"denied",
        r"denying",
        r"without",
        r"never",
        r"stopped",
        r"discontinued",
        r"off",
        r"not",
        r"no",
    ),
    "family": (
        r"family\s+(?:medical\s+)?(?:history|hx)",
        r"fhx?",
        r"mother",
        r"father",
        r"brother",
        r"sister",
        r"siblings?",
        r"parents?",
        r"grandmother",
        r"grandfather",
        r"maternal",
        r"paternal",
    ),
    "request": (
        r"recommend(?:s|ed|ing|ation)?",
        r"suggest(?:s|ed|ing|ion)?",
        r"propos(?:e|es|ed|ing)",
        r"consider(?:s|ed|ing)?",
        r"prescribe",
        r"switch(?:ing)?\s+(?:him|her|them|the\s+patient\s+)?to",
        r"should\s+(?:i|we|he|she|they|the\s+patient)\s+(?:start|take|try|use|get|receive)",
        r"what\s+about",
    ),
    "allergy": (
        r"allergic\s+(?:reactions?\s+)?to",
        r"allerg(?:y|ies)\s+to",
        r"allerg(?:y|ies)",
        r"intoleran(?:t|ce)\s+(?:of|to)",
        r"anaphylaxis\s+(?:to|with|from)",
        r"hypersensitivity\s+to",
        r"(?:adverse\s+)?reactions?\s+to",
        r"sensitive\s+to",
    ),
    "medication": (
        r"started\s+on",
        r"treated\s+with",
        r"maintained\s+on",
        r"dose\s+of",
        r"on",
        r"taking",
        r"takes",
        r"take",
        r"took",
        r"receiving",
        r"receives",
        r"prescribed",
        r"uses",
        r"using",
        r"meds",
        r"medications?",
        r"medicines?",
        r"rx",
    ),
    "condition": (
        r"(?:past\s+)?medical\s+history(?:\s+of)?",
        r"diagnosed\s+with",
        r"presents?\s+with",
        r"suffers?\s+from",
        r"history\s+of",
        r"hx\s+of",
        r"h/o",
        r"pmh",
        r"with",
        r"has",
        r"have",
        r"had",
        r"diagnos[ei]s",
        r"dx",
        r"problems?",
        r"conditions?",
    ),
    "terminator": (
        r"but",
        r"however",
        r"although",
        r"though",
        r"except",
        r"aside\s+from",
        r"apart\s+from",
        r"yet",
        r"presents",
        r"reports",
        r"complains",
        r"currently",
        r"now",
        r"is",
        r"was",
        r"are",
        r"patient",
        r"pt",
        r"he",
        r"she",
    ),
}
# One alternation, categories in this order, so the leftmost-longest phrase wins
# ("no known drug allergies" is NKDA, not a negation; "treated with" is a medication cue).
_CUE_ORDER = (
    *("nkda", "pseudo", "negation", "family", "request", "allergy", "medication", "condition"),
)
_CUES = re.compile(
    r"(?<![\w/])(?:"
    + "|".join(f"(?P<{cat}>{'|'.join(_PHRASES[cat])})" for cat in (*_CUE_ORDER, "terminator"))
    + r")(?![\w/])",
    re.IGNORECASE,
)
_CONTEXT_CUES = ("allergy", "medication", "condition")
_ALLERGY_AFTER = re.compile(
    r"[\s-]*(?:allerg(?:y|ies|ic)|intoleran(?:t|ce)|hypersensitivity)\b", re.IGNORECASE
)
# a period is a break unless it sits between digits (2.5 mg)
_SENTENCE_BREAK = re.compile(r"(?<!\d)\.|\.(?!\d)|[;!?\n]")
_HEADING = re.compile(r"^[ \t]*([A-Za-z][A-Za-z /&()-]{0,40}?)[ \t]*:[ \t]*$", re.MULTILINE)
_BLOCK_END = re.compile(r"\n[ \t]*\n")
_WORDS = re.compile(r"\w+")
# Words between a cue and a terminating word that do not end the cue's scope.
_FILLER = frozenset(
    (
        *("a", "an", "the", "any", "ever", "currently", "been", "being", "known", "prior"),
        *("previous", "personal", "significant", "recent", "recently", "other", "history", "of"),
    )
)

_AGE = (
    re.compile(r"\b(\d{1,3})[\s-]*(?:years?|yrs?|y)[\s-]*old\b", re.IGNORECASE),
    re.compile(
        r"\b(\d{1,3})[\s-]*(?:yo|y/o|y\.o\.?|(?:years?|yrs?)\s+of\s+age)(?![A-Za-z])",
        re.IGNORECASE,
    ),
    re.compile(r"\bage[d]?\s*[:=]?\s*(\d{1,3})\b", re.IGNORECASE),
    re.compile(r"(?:^|[.;:\n]\s*|\ba\s+)(\d{1,3})\s?(?:yo\s?)?[MF]\b"),
)
_SEX_EXPLICIT = re.compile(
    r"\b(?P<male>man|male|gentleman|boy)\b|\b(?P<female>woman|female|lady|girl)\b"
    r"|\b(?:sex|gender)\s*[:=]?\s*(?:(?P<m>M)|(?P<f>F))\b"
    r"|(?:^|[.;:\n]\s*|\ba\s+)\d{1,3}\s?(?:yo\s?)?(?-i:(?P<m2>M)|(?P<f2>F))\b",
    re.IGNORECASE,
)
_PRONOUNS = re.compile(r"\b(?P<male>he|him|his)\b|\b(?P<female>she|her|hers)\b", re.IGNORECASE)

Bucket = Literal["conditions", "medications", "allergies"]


@dataclass(frozen=True)
class Mention:
    """A span of the note linked to an entity.

    Attributes:
        text: the span as written (``note[start:end]``).
        start: offset of its first character in the note.
        end: offset just past its last character.
        entity: what it names.
        negated: a negation cue governs it ("denies hypertension").
    """

    text: str
    start: int
    end: int
    entity: LinkedEntity
    negated: bool = False


@dataclass(frozen=True)
class PatientMentions:
    """What a note says about the patient.

    Attributes:
        conditions: diseases (negated ones included, flagged), in note order.
        medications: drugs the patient takes (or, if negated, does not take).
        allergies: drugs and drug classes the patient is allergic to.
        age: years, when stated.
        sex: ``"female"`` / ``"male"``, when stated.
        no_known_allergies: the note says NKDA / no known allergies.
    """

    conditions: tuple[Mention, ...]
    medications: tuple[Mention, ...]
    allergies: tuple[Mention, ...]
    age: int | None
    sex: Literal["female", "male"] | None
    no_known_allergies: bool = False


@dataclass(frozen=True)
class NameMatch:
    """A run of tokens that is a known name, with its context.

    Attributes:
        start: offset of the run in the text.
        end: offset just past the run.
        key: its normalised name.
        entries: the index entries it may stand for, best first (at least one).
        negated: governed by a negation cue.
        family: about a relative (family history).
        requested: after a request cue ("recommend X"): a proposal, not a fact.
        context: the last allergy / medication / condition cue in scope, if any.
    """

    start: int
    end: int
    key: str
    entries: tuple[Entry, ...]
    negated: bool
    family: bool
    requested: bool
    context: str | None


@dataclass(frozen=True)
class _Cue:
    start: int
    end: int
    category: str
    scope_end: int  # the cue governs names that start before this offset


class _Context:
    """Cue positions of one text, found once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.breaks = [m.start() for m in _SENTENCE_BREAK.finditer(text)]
        blocks = self._heading_blocks(text)
        self.cues: list[_Cue] = []
        for match in _CUES.finditer(text):
            category = match.lastgroup or "terminator"
            scope = blocks.get(match.start(), self._sentence_end(match.end()))
            self.cues.append(_Cue(match.start(), match.end(), category, scope))
        self.starts = [c.start for c in self.cues]
        self.nkda = any(c.category == "nkda" for c in self.cues)

    def _heading_blocks(self, text: str) -> dict[int, int]:
        """Start of a cue that is a heading alone on its line -> end of its block."""
        blocks: dict[int, int] = {}
        headings = [m for m in _HEADING.finditer(text) if _CUES.search(m.group(1))]
        for i, heading in enumerate(headings):
            cue = _CUES.search(text, heading.start(1), heading.end(1))
            if cue is None:
                continue
            stop = len(text)
            if blank := _BLOCK_END.search(text, heading.end()):
                stop = blank.start()
            if i + 1 < len(headings):
                stop = min(stop, headings[i + 1].start())
            blocks[cue.start()] = stop
        return blocks

    def _sentence_end(self, position: int) -> int:
        at = bisect.bisect_left(self.breaks, position)
        return self.breaks[at] if at < len(self.breaks) else len(self.text)

    def sentence_start(self, position: int) -> int:
        """Offset just past the last sentence break before ``position``."""
        at = bisect.bisect_left(self.breaks, position)
        return self.breaks[at - 1] + 1 if at else 0

    def inside_allergy_cue(self, start: int, end: int) -> bool:
        """Whether ``start:end`` lies within an allergy cue ("anaphylaxis to")."""
        at = bisect.bisect_right(self.starts, start) - 1
        return at >= 0 and self.cues[at].category == "allergy" and self.cues[at].end >= end

    def _before(self, position: int) -> list[_Cue]:
        """Cues that end before ``position`` and whose scope reaches it, in text order."""
        stop = bisect.bisect_left(self.starts, position)
        return [c for c in self.cues[:stop] if c.end <= position and c.scope_end > position]

    def _terminated(self, cue: _Cue, position: int, cues: Sequence[_Cue]) -> bool:
        """Whether a terminating word or another cue ends ``cue``'s scope before ``position``.

        It counts only after a real word ("no fever, takes aspirin"), not right after the
        cue or after filler ("not currently taking aspirin").
        """
        for other in cues:
            if other.start < cue.end or other.start >= position:
                continue
            if other.category in ("pseudo", "nkda", "family", "request"):
                continue
            gap = _WORDS.findall(self.text[cue.end : other.start].lower())
            if any(word not in _FILLER for word in gap):
                return True
        return False

    def _governed(self, start: int, category: str, cues: list[_Cue]) -> bool:
        """Whether the last ``category`` cue before ``start`` still governs it."""
        found = [c for c in cues if c.category == category]
        if not found:
            return False
        cue = found[-1]
        later = [c for c in cues if c.start > cue.start and c.category != "negation"]
        return not self._terminated(cue, start, later)

    def describe(self, start: int) -> tuple[bool, bool, bool, str | None]:
        """(negated, family, requested, context cue) of a name starting at ``start``."""
        cues = self._before(start)
        context = next((c.category for c in reversed(cues) if c.category in _CONTEXT_CUES), None)
        negated = False
        negations = [c for c in cues if c.category == "negation"]
        if negations:
            cue = negations[-1]
            words = len(_WORDS.findall(self.text[cue.end : start]))
            later = [c for c in cues if c.start > cue.start]
            negated = words <= NEGATION_WINDOW and not self._terminated(cue, start, later)
        family = self._governed(start, "family", cues)
        requested = self._governed(start, "request", cues)
        return negated, family, requested, context


def _generic(key: str) -> bool:
    """A key that is no name in free text: blocked, a fragment or only generic words."""
    words = key.split()
    if key in BLOCKED or words[0] in _EDGE_WORDS or words[-1] in _EDGE_WORDS:
        return True
    return all(w in BLOCKED or w in _EDGE_WORDS or w.isdigit() for w in words)


def _usable(entry: Entry, key: str, surface: str, common: frozenset[str]) -> bool:
    """May ``entry`` be taken from free text where it is written as ``surface``?"""
    letters = sum(ch.isalpha() for ch in entry.name)
    if entry.curated:
        return surface.isupper() if entry.name.isupper() else len(key) >= MIN_CHARS
    if len(key) < MIN_CHARS or _generic(key):
        return False
    if entry.kind != "substance" and key in common:
        return False  # substances only count after an allergy cue, where names are likely
    if entry.name.isupper() and letters <= 6:
        return letters > 3 and surface.isupper()
    return True


def find_names(
    linker: Linker,
    text: str,
    kinds: Sequence[EntityKind] = ("drug", "disease", "substance"),
    context: _Context | None = None,
) -> list[NameMatch]:
    """Known names in ``text`` (longest match first, left to right) with their context.

    Args:
        linker: the linker whose index is searched.
        text: any text (no length check here; see :func:`extract_mentions`).
        kinds: the kinds of entity to look for.
        context: the cues of ``text``, when the caller has them already.

    Returns:
        Non-overlapping matches in text order.

    Example:
        >>> [m.negated for m in find_names(get_linker(), "no hypertension")]  # doctest: +SKIP
        [True]
    """
    words = list(spans(text))
    context = context or _Context(text)
    common = linker.index.common_words
    found: list[NameMatch] = []
    i = 0
    while i < len(words):
        sentence = context.sentence_start(words[i][1])
        match: NameMatch | None = None
        for width in range(min(MAX_WORDS, len(words) - i), 0, -1):
            last = words[i + width - 1]
            if width > 1 and context.sentence_start(last[1]) != sentence:
                continue  # the run would cross a sentence break
            key = " ".join(w for w, _, _ in words[i : i + width])
            start, end = words[i][1], last[2]
            surface = text[start:end]
            entries = tuple(
                e
                for e in linker.entries(key)
                if e.kind in kinds and _usable(e, key, surface, common)
            )
            if entries:
                negated, family, requested, cue = context.describe(start)
                if _ALLERGY_AFTER.match(text, end):
                    cue = "allergy"  # "penicillin allergy", "sulfa intolerance"
                match = NameMatch(start, end, key, entries, negated, family, requested, cue)
                i += width
                break
        if match is None:
            i += 1
        else:
            found.append(match)
    return found


def _choose(match: NameMatch) -> tuple[Bucket, Entry] | None:
    """The bucket and entry of a match (see the module docstring), or None to drop it."""
    by_kind: dict[str, list[Entry]] = {}
    for entry in match.entries:
        by_kind.setdefault(entry.kind, []).append(entry)
    drugs, substances, diseases = (by_kind.get(k, []) for k in ("drug", "substance", "disease"))
    if match.context == "allergy":
        chosen = drugs or substances
        return ("allergies", chosen[0]) if chosen else None
    if drugs and (not diseases or match.context == "medication"):
        return "medications", drugs[0]
    if diseases:
        return "conditions", diseases[0]
    return None


def _age(note: str) -> int | None:
    found = [m for pattern in _AGE for m in pattern.finditer(note)]
    for match in sorted(found, key=lambda m: m.start(1)):
        if 0 <= int(match.group(1)) <= 120:
            return int(match.group(1))
    return None


def _sex(note: str) -> Literal["female", "male"] | None:
    for match in _SEX_EXPLICIT.finditer(note):
        if match.group("m") or match.group("m2"):
            return "male"
        if match.group("f") or match.group("f2"):
            return "female"
        return "male" if match.group("male") else "female"
    male = female = 0
    for match in _PRONOUNS.finditer(note):
        if match.group("male"):
            male += 1
        else:
            female += 1
    if male == female:
        return None
    return "male" if male > female else "female"


def extract_mentions(linker: Linker, note: str) -> PatientMentions:
    """Find the entities a note mentions and sort them into conditions, meds and allergies.

    Args:
        linker: the linker whose vocabularies are used.
        note: free text, at most 20,000 characters. It is never logged or echoed.

    Returns:
        The mentions (offsets index ``note`` as given), age, sex and the NKDA flag.

    Raises:
        InvalidInputError: the note is empty, not text, or longer than 20,000 characters.

    Example:
        >>> extract_mentions(get_linker(), "NKDA").no_known_allergies  # doctest: +SKIP
        True
    """
    from kedrec_agent.linking.linker import check_text

    check_text(note, MAX_NOTE_CHARS, "The patient description")
    buckets: dict[Bucket, dict[str, Mention]] = {
        "conditions": {},
        "medications": {},
        "allergies": {},
    }
    context = _Context(note)
    for match in find_names(linker, note, context=context):
        if match.family or context.inside_allergy_cue(match.start, match.end):
            continue  # a relative's disease; "anaphylaxis" in "anaphylaxis to"
        chosen = _choose(match)
        if chosen is None:
            continue
        bucket, entry = chosen
        if match.requested and bucket == "medications":
            continue  # "recommend imatinib": a proposal, not a current medication
        entity = linker.entity(entry.id, entry.kind, entry.name, 100.0)
        surface = note[match.start : match.end]
        mention = Mention(surface, match.start, match.end, entity, match.negated)
        known = buckets[bucket].get(entity.canonical)
        if known is None or (known.negated and not mention.negated):
            buckets[bucket][entity.canonical] = mention
    return PatientMentions(
        conditions=tuple(buckets["conditions"].values()),
        medications=tuple(buckets["medications"].values()),
        allergies=tuple(buckets["allergies"].values()),
        age=_age(note),
        sex=_sex(note),
        no_known_allergies=context.nkda,
    )
