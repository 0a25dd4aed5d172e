"""Text normalisation shared by the name index and the queries.

Both sides go through the same function, so a query meets a vocabulary name whenever the
two differ only in:

* case and accents (NFKD, combining marks dropped, case-folded);
* punctuation (every non-alphanumeric run is a token break: ``BCR-ABL`` = ``bcr abl``);
* possessives (``Alzheimer's`` = ``Alzheimer``);
* simple plurals (``leukemias`` = ``leukemia``, ``therapies`` = ``therapy``; words ending
  in ``ss``, ``us`` or ``is`` are left alone: ``mellitus``, ``psoriasis``);
* Roman numerals I-IV as whole words (``type II`` = ``type 2``);
* British ``ae`` spellings (``leukaemia`` = ``leukemia``) and a leading ``oe``
  (``oedema`` = ``edema``).

MeSH headings are also indexed in their natural order, see :func:`name_variants`.
:func:`check_text` validates user text (names, notes) before it is normalised.

Example:
    >>> normalize("Diabetes Mellitus, Type II")
    'diabete mellitus type 2'
    >>> normalize("Penicillins") == normalize("penicillin")
    True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from kedrec_agent.errors import InvalidInputError

# A word, with an optional possessive "'s" glued to it (dropped by _word_tokens).
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019\u02bc][sS](?![^\W_]))?")
_WORD = re.compile(r"[^\W_]+")
_POSSESSIVE = re.compile(r"['\u2019\u02bc][sS]$")
_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4"}
_KEEP_ENDINGS = ("ss", "us", "is")


def fold_token(token: str) -> str:
    """Fold one lower-case token: plural, Roman numeral, British spelling.

    Args:
        token: a lower-case alphanumeric token.

    Returns:
        The folded token.

    Example:
        >>> [fold_token(t) for t in ["therapies", "drugs", "mellitus", "ii", "leukaemia"]]
        ['therapy', 'drug', 'mellitus', '2', 'leukemia']
    """
    if token in _ROMAN:
        return _ROMAN[token]
    if not token.isalpha():  # numbers and codes (b12, 5ht3) stay as they are
        return token
    if "ae" in token:
        token = token.replace("ae", "e")
    if token.startswith("oe") and len(token) > 4:
        token = "e" + token[2:]
    if len(token) > 3:
        if token.endswith("ies"):
            return token[:-3] + "y"
        if token.endswith("sses"):
            return token[:-2]
        if token.endswith("s") and not token.endswith(_KEEP_ENDINGS):
            return token[:-1]
    return token


def _ascii_fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=1 << 18)
def _word_tokens(raw: str) -> tuple[str, ...]:
    """Normalised tokens of one raw token match (NFKD may split it further)."""
    folded = _ascii_fold(_POSSESSIVE.sub("", raw))
    if folded.isalnum() and folded.isascii():
        return (fold_token(folded),)
    return tuple(fold_token(t) for t in _WORD.findall(folded))


def tokens(text: str) -> list[str]:
    """Normalised tokens of ``text``.

    Example:
        >>> tokens("Crohn's Diseases")
        ['crohn', 'disease']
    """
    return [t for match in _TOKEN.finditer(text) for t in _word_tokens(match.group())]


def normalize(text: str) -> str:
    """The lookup key of a name: its folded tokens joined by single spaces.

    Example:
        >>> normalize("  Leukemia, Myelogenous;  CHRONIC ")
        'leukemia myelogenous chronic'
    """
    return " ".join(tokens(text))


def spans(text: str) -> Iterator[tuple[str, int, int]]:
    """Normalised tokens with the (start, end) offsets of their words in ``text``.

    Offsets always index the original ``text`` (NFKD can change lengths, so each word is
    normalised on its own; a word that NFKD splits yields several tokens with one span).

    Example:
        >>> list(spans("Type-2 diabetes"))
        [('type', 0, 4), ('2', 5, 6), ('diabete', 7, 15)]
    """
    for match in _TOKEN.finditer(text):
        for token in _word_tokens(match.group()):
            yield token, match.start(), match.end()


def name_variants(name: str) -> list[str]:
    """A name and, for a comma-inverted MeSH heading, its natural reading.

    Args:
        name: a vocabulary name.

    Returns:
        ``[name]``, plus the comma-separated parts in reverse order when the name has
        ``", "`` in it.

    Example:
        >>> name_variants("Leukemia, Myelogenous, Chronic, BCR-ABL Positive")[1]
        'BCR-ABL Positive Chronic Myelogenous Leukemia'
        >>> name_variants("Diabetes Mellitus, Type 2")[1]
        'Type 2 Diabetes Mellitus'
    """
    variants = [name]
    if ", " in name:
        parts = [part.strip() for part in name.split(", ") if part.strip()]
        if len(parts) > 1:
            variants.append(" ".join(reversed(parts)))
    return variants


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
