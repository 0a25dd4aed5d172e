"""Text normalisation shared by the name index and the queries.

Case, accents, punctuation and simple plurals are folded, so "Leukemias, Myelogenous" and
"leukemia myelogenous" meet.

Example:
    >>> normalize("Diabetes Mellitus, Type 2")
    'diabete mellitu type 2'
    >>> normalize("Penicillins") == normalize("penicillin")
    True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def fold_token(token: str) -> str:
    """Fold a lower-case token's plural: ``therapies`` -> ``therapy``, ``drugs`` -> ``drug``."""
    if len(token) > 3 and not token.isdigit():
        if token.endswith("ies"):
            return token[:-3] + "y"
        if token.endswith("s") and not token.endswith("ss"):
            return token[:-1]
    return token


def _ascii_lower(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def tokens(text: str) -> list[str]:
    """Normalised tokens of ``text``."""
    return [fold_token(t) for t in _TOKEN.findall(_ascii_lower(text))]


def normalize(text: str) -> str:
    """The lookup key of a name: folded tokens joined by single spaces."""
    return " ".join(tokens(text))


def spans(text: str) -> Iterator[tuple[str, int, int]]:
    """Normalised tokens with their (start, end) character offsets in ``text``.

    NFKD can change lengths, so offsets come from tokenising the original text and
    normalising each token on its own.
    """
    for match in _TOKEN.finditer(text):
        for token in tokens(match.group()):
            yield token, match.start(), match.end()


def name_variants(name: str) -> list[str]:
    """A name and its MeSH comma-inverted reading.

    "Leukemia, Myelogenous, Chronic, BCR-ABL Positive" also reads
    "BCR-ABL Positive Chronic Myelogenous Leukemia".
    """
    variants = [name]
    if ", " in name:
        parts = [p.strip() for p in name.split(",") if p.strip()]
        variants.append(" ".join(reversed(parts)))
    return variants
