"""Mentions of conditions, medications and allergies in a free-text patient note.

A dictionary approach, no network and no model:

* **Names.** The note is tokenised like the vocabulary (:mod:`~kedrec_agent.linking.
  normalize`); at each token the longest run of up to 8 tokens that is a known name wins.
  Runs never cross a sentence break (``. ; ! ?`` or a line break). In free text a name
  must have at least 4 characters, must not be an everyday word (:data:`~kedrec_agent.
  linking.lexicon.BLOCKED`), and an
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
  out, and so is a drug that is no medication (an ion, element or excipient such as
  Sulfate ion or Water: :func:`~kedrec_agent.linking.forms.inactive_reason`) outside an
  allergy context.
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

The word lists and patterns are in :mod:`~kedrec_agent.linking.lexicon`, the scopes of cues
in :mod:`~kedrec_agent.linking.cues`. :func:`find_names` and :func:`extract_mentions` read
names through the small protocols :class:`NameLookup` and :class:`EntityLookup`, which a
:class:`~kedrec_agent.linking.linker.Linker` satisfies.

Example:
    >>> m = get_linker().extract(  # doctest: +SKIP
    ...     "68-year-old man with type 2 diabetes on warfarin, allergic to penicillin")
    >>> [c.entity.canonical for c in m.conditions], m.age, m.sex  # doctest: +SKIP
    (['MESH:D003924'], 68, 'male')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from kedrec_agent.linking.cues import CueContext
from kedrec_agent.linking.lexicon import (
    AGE,
    ALLERGY_AFTER,
    BLOCKED,
    EDGE_WORDS,
    NOT_PREGNANT,
    PAST_PREGNANCY,
    PREGNANCY_LOSS,
    PREGNANT,
    PRONOUNS,
    SEX_EXPLICIT,
)
from kedrec_agent.linking.normalize import check_text, spans

if TYPE_CHECKING:
    from kedrec_agent.linking.entities import LinkedEntity
    from kedrec_agent.linking.vocabulary import EntityKind, Entry, NameIndex

MAX_NOTE_CHARS = 20_000
MAX_WORDS = 8
MIN_CHARS = 4

Bucket = Literal["conditions", "medications", "allergies"]


class NameLookup(Protocol):
    """What :func:`find_names` reads of a linker.

    A :class:`~kedrec_agent.linking.linker.Linker` is one; so is any object with these members.

    Attributes:
        index: the name index; only its ``common_words`` are read.
    """

    @property
    def index(self) -> NameIndex:
        """The name index."""

    def entries(self, key: str, kind: EntityKind | None = None) -> tuple[Entry, ...]:
        """Index entries of a normalised key (optionally of one kind), best first."""


class EntityLookup(NameLookup, Protocol):
    """What :func:`extract_mentions` reads of a linker: names, and entities of entries."""

    def entity(self, entity_id: str, kind: EntityKind, matched: str, score: float) -> LinkedEntity:
        """A :class:`~kedrec_agent.linking.entities.LinkedEntity` for a known id."""

    def inactive_reason(self, entity_id: str) -> str | None:
        """Why a drug is no medication (an ion, element or excipient), else None."""


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
        pregnant: pregnant or planning a pregnancy; ``False``: denied (a negative pregnancy
            test, post-menopausal); ``None``: not said.
    """

    conditions: tuple[Mention, ...]
    medications: tuple[Mention, ...]
    allergies: tuple[Mention, ...]
    age: int | None
    sex: Literal["female", "male"] | None
    no_known_allergies: bool = False
    pregnant: bool | None = None


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


def _generic(key: str) -> bool:
    """A key that is no name in free text: blocked, a fragment or only generic words."""
    words = key.split()
    if key in BLOCKED or words[0] in EDGE_WORDS or words[-1] in EDGE_WORDS:
        return True
    return all(w in BLOCKED or w in EDGE_WORDS or w.isdigit() for w in words)


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
    linker: NameLookup,
    text: str,
    kinds: Sequence[EntityKind] = ("drug", "disease", "substance"),
    context: CueContext | None = None,
) -> list[NameMatch]:
    """Known names in ``text`` (longest match first, left to right) with their context.

    Args:
        linker: the linker (any :class:`NameLookup`) whose index is searched.
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
    context = context or CueContext(text)
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
                if ALLERGY_AFTER.match(text, end):
                    cue = "allergy"  # "penicillin allergy", "sulfa intolerance"
                match = NameMatch(start, end, key, entries, negated, family, requested, cue)
                i += width
                break
        if match is None:
            i += 1
        else:
            found.append(match)
    return found


def _choose(match: NameMatch, linker: EntityLookup) -> tuple[Bucket, Entry] | None:
    """The bucket and entry of a match (see the module docstring), or None to drop it."""
    by_kind: dict[str, list[Entry]] = {}
    for entry in match.entries:
        by_kind.setdefault(entry.kind, []).append(entry)
    drugs, substances, diseases = (by_kind.get(k, []) for k in ("drug", "substance", "disease"))
    if match.context == "allergy":
        chosen = drugs or substances
        return ("allergies", chosen[0]) if chosen else None
    drugs = [e for e in drugs if linker.inactive_reason(e.id) is None]
    if drugs and (not diseases or match.context == "medication"):
        return "medications", drugs[0]
    if diseases:
        return "conditions", diseases[0]
    return None


def _age(note: str) -> int | None:
    found = [m for pattern in AGE for m in pattern.finditer(note)]
    for match in sorted(found, key=lambda m: m.start(1)):
        if 0 <= int(match.group(1)) <= 120:
            return int(match.group(1))
    return None


def _sex(note: str) -> Literal["female", "male"] | None:
    for match in SEX_EXPLICIT.finditer(note):
        if match.group("m") or match.group("m2"):
            return "male"
        if match.group("f") or match.group("f2"):
            return "female"
        return "male" if match.group("male") else "female"
    male = female = 0
    for match in PRONOUNS.finditer(note):
        if match.group("male"):
            male += 1
        else:
            female += 1
    if male == female:
        return None
    return "male" if male > female else "female"


def _pregnant(note: str, context: CueContext) -> bool | None:
    """Whether the note says the patient is pregnant (or plans to be), is not, or neither."""
    if NOT_PREGNANT.search(note):
        return False
    stated = None
    for match in PREGNANT.finditer(note):
        before, after = note[max(0, match.start() - 30) : match.start()], note[match.end() :]
        if PAST_PREGNANCY.search(before) or PREGNANCY_LOSS.match(after):
            continue  # "previous pregnancy", "pregnancy loss": not now
        negated, family, _, _ = context.describe(match.start())
        if family:
            continue
        if not negated:
            return True
        stated = False  # "not pregnant", "denies pregnancy"
    return stated


def extract_mentions(linker: EntityLookup, note: str) -> PatientMentions:
    """Find the entities a note mentions and sort them into conditions, meds and allergies.

    Args:
        linker: the linker (any :class:`EntityLookup`) whose vocabularies are used.
        note: free text, at most 20,000 characters. It is never logged or echoed.

    Returns:
        The mentions (offsets index ``note`` as given), age, sex and the NKDA flag.

    Raises:
        InvalidInputError: the note is empty, not text, or longer than 20,000 characters.

    Example:
        >>> extract_mentions(get_linker(), "NKDA").no_known_allergies  # doctest: +SKIP
        True
    """
    check_text(note, MAX_NOTE_CHARS, "The patient description")
    buckets: dict[Bucket, dict[str, Mention]] = {
        "conditions": {},
        "medications": {},
        "allergies": {},
    }
    context = CueContext(note)
    for match in find_names(linker, note, context=context):
        if match.family or context.inside_allergy_cue(match.start, match.end):
            continue  # a relative's disease; "anaphylaxis" in "anaphylaxis to"
        chosen = _choose(match, linker)
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
        pregnant=_pregnant(note, context),
    )
