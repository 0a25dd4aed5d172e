"""Split documents into passages of whole sentences.

Example:
    >>> chunk_text("One. Two two. Three three three.", max_words=3)
    ['One. Two two.', 'Three three three.']
"""

from __future__ import annotations

import re

# A sentence ends at . ! or ? followed by space and an upper-case letter, digit or bracket.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
MAX_WORDS = 160  # ~210 word pieces: under all-MiniLM-L6-v2's 256-token window


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (a rule-based split, good enough for abstracts)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def chunk_text(text: str, max_words: int = MAX_WORDS) -> list[str]:
    """Group whole sentences into passages of at most ``max_words`` words.

    A single sentence longer than the budget becomes a passage of its own (never cut).
    """
    chunks: list[str] = []
    current: list[str] = []
    words = 0
    for sentence in sentences(text):
        size = len(sentence.split())
        if current and words + size > max_words:
            chunks.append(" ".join(current))
            current, words = [], 0
        current.append(sentence)
        words += size
    if current:
        chunks.append(" ".join(current))
    return chunks
