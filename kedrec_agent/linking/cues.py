"""Which cue of a text governs a name: negation, family history, request, context.

A cue (:data:`~kedrec_agent.linking.lexicon.CUES`) reaches to the end of its sentence, or,
as a heading alone on its line ("Allergies:"), to the end of its block (a blank line or the
next heading). :class:`CueContext` finds the cues of a text once and answers, for the start
of a name, whether a negation governs it (at most :data:`NEGATION_WINDOW` words before it,
no terminating word in between), whether it is about a relative or a request, and which
allergy / medication / condition cue sets its context. The rules are those of
:mod:`~kedrec_agent.linking.extract`.

Example:
    >>> CueContext("Allergies: none. Denies hypertension.").describe(24)
    (True, False, False, None)
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from kedrec_agent.linking.lexicon import (
    BLOCK_END,
    CONTEXT_CUES,
    CUES,
    FILLER,
    HEADING,
    SENTENCE_BREAK,
    WORDS,
)

NEGATION_WINDOW = 8
"""A negation cue reaches at most this many words ahead."""


@dataclass(frozen=True)
class Cue:
    """One cue phrase (or terminating word) found in a text.

    Attributes:
        start: offset of the phrase in the text.
        end: offset just past the phrase.
        category: its :data:`~kedrec_agent.linking.lexicon.PHRASES` category.
        scope_end: the cue governs names that start before this offset.
    """

    start: int
    end: int
    category: str
    scope_end: int


class CueContext:
    """Cue positions of one text, found once.

    Args:
        text: the text (a note, a title) whose cues are found.

    Attributes:
        text: that text.
        breaks: offsets of its sentence breaks, in order.
        cues: every cue phrase and terminating word, in text order.
        starts: the cues' start offsets (for bisection).
        nkda: the text says NKDA / no known allergies.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.breaks = [m.start() for m in SENTENCE_BREAK.finditer(text)]
        blocks = self._heading_blocks(text)
        self.cues: list[Cue] = []
        for match in CUES.finditer(text):
            category = match.lastgroup or "terminator"
            scope = blocks.get(match.start(), self._sentence_end(match.end()))
            self.cues.append(Cue(match.start(), match.end(), category, scope))
        self.starts = [c.start for c in self.cues]
        self.nkda = any(c.category == "nkda" for c in self.cues)

    def _heading_blocks(self, text: str) -> dict[int, int]:
        """Start of a cue that is a heading alone on its line -> end of its block."""
        blocks: dict[int, int] = {}
        headings = [m for m in HEADING.finditer(text) if CUES.search(m.group(1))]
        for i, heading in enumerate(headings):
            cue = CUES.search(text, heading.start(1), heading.end(1))
            if cue is None:
                continue
            stop = len(text)
            if blank := BLOCK_END.search(text, heading.end()):
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

    def _before(self, position: int) -> list[Cue]:
        """Cues that end before ``position`` and whose scope reaches it, in text order."""
        stop = bisect.bisect_left(self.starts, position)
        return [c for c in self.cues[:stop] if c.end <= position and c.scope_end > position]

    def _terminated(self, cue: Cue, position: int, cues: Sequence[Cue]) -> bool:
        """Whether a terminating word or another cue ends ``cue``'s scope before ``position``.

        It counts only after a real word ("no fever, takes aspirin"), not right after the
        cue or after filler ("not currently taking aspirin").
        """
        for other in cues:
            if other.start < cue.end or other.start >= position:
                continue
            if other.category in ("pseudo", "nkda", "family", "request"):
                continue
            gap = WORDS.findall(self.text[cue.end : other.start].lower())
            if any(word not in FILLER for word in gap):
                return True
        return False

    def _governed(self, start: int, category: str, cues: list[Cue]) -> bool:
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
        context = next((c.category for c in reversed(cues) if c.category in CONTEXT_CUES), None)
        negated = False
        negations = [c for c in cues if c.category == "negation"]
        if negations:
            cue = negations[-1]
            words = len(WORDS.findall(self.text[cue.end : start]))
            later = [c for c in cues if c.start > cue.start]
            negated = words <= NEGATION_WINDOW and not self._terminated(cue, start, later)
        family = self._governed(start, "family", cues)
        requested = self._governed(start, "request", cues)
        return negated, family, requested, context
