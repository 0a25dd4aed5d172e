"""ICD-9-CM diagnosis codes: one reading of every way they are written.

MIMIC-III stores codes without their dot (``4019``, ``25000``, ``V4581``, ``E8781``); people
and FHIR records write them with it (``401.9``, ``250.00``, ``V45.81``, ``E878.1``), with or
without a prefix (``ICD9:``, ``ICD-9-CM``, ``icd9 ``). :func:`parse_icd9` reads all of them
into the undotted code, the key of the MIMIC ``D_ICD_DIAGNOSES`` table; :func:`dotted`
writes a key back with its dot. The structure of a diagnosis code:

* ``ddd[.d[d]]``: three digits, the dot, up to two more (``276.5``, ``250.00``);
* ``Vdd[.d[d]]``: ``V``, two digits, the dot, up to two more (``V45.81``);
* ``Eddd[.d]``: ``E``, three digits, the dot, at most one more (``E878.1``).

So the dot goes after 3 characters of a numeric code, 3 of a V code and 4 of an E code.
Rules for the digits before the dot:

* with a prefix, a dotted code whose leading zeros were lost is padded (``ICD9:38.9`` is
  ``038.9``, ``ICD9:V4.5`` is ``V04.5``); an undotted code must have its full category
  (3 digits, ``V`` + 2, ``E`` + 3), since ``389`` and ``0389`` are different codes;
* without a prefix, only the full form counts (``276.5``, ``V45.81``, ``4019``), so a
  temperature (``38.9``) or a dose is never read as a code.

A prefixed or dotted code may name a category (``ICD9:250``, ``276.5``: the table lists its
sub-codes only); a bare undotted number must be a listed code (see
:meth:`~kedrec_agent.linking.linker.Linker.candidates`).

Example:
    >>> [parse_icd9(t).key for t in ("ICD9:2765", "ICD9:276.5", "276.5", "icd-9-cm V45.81")]
    ['2765', '2765', '2765', 'V4581']
    >>> dotted("E8781"), dotted("25000"), dotted("V4581")
    ('E878.1', '250.00', 'V45.81')
"""

from __future__ import annotations

import re
from typing import NamedTuple

_PREFIX = re.compile(r"^ICD[-_ ]?9(?:[-_ ]?CM)?\s*:?\s*(?P<code>\S.*)$", re.IGNORECASE)
# letter, digits before the dot (category), digits after it
_DOTTED = re.compile(r"^(?P<letter>[VE]?)(?P<head>\d{1,3})\.(?P<tail>\d{1,2})$", re.IGNORECASE)
_UNDOTTED = re.compile(r"^(?P<letter>[VE]?)(?P<digits>\d{1,5})$", re.IGNORECASE)
# letter -> (digits of the category, most digits after the dot)
_SHAPE = {"": (3, 2), "V": (2, 2), "E": (3, 1)}


class Icd9Code(NamedTuple):
    """A parsed ICD-9-CM diagnosis code.

    Attributes:
        key: the code without its dot, upper case (``2765``, ``V4581``, ``E8781``).
        explicit: written as a code beyond doubt (a prefix or a dot), so it may also name
            a category (``ICD9:250``); a bare undotted number must be a listed code.
    """

    key: str
    explicit: bool


def parse_icd9(text: str) -> Icd9Code | None:
    """The ICD-9-CM diagnosis code ``text`` writes, or None when it is none.

    Args:
        text: ``ICD9:2765``, ``ICD9:276.5``, ``276.5``, ``4019``, ``V45.81``, ``E8781``...

    Returns:
        The undotted code and whether it was written explicitly as a code.

    Example:
        >>> parse_icd9("ICD9:E878.1"), parse_icd9("38.9")
        (Icd9Code(key='E8781', explicit=True), None)
    """
    text = text.strip()
    prefixed = _PREFIX.match(text)
    if prefixed:
        text = prefixed.group("code").strip()
    if match := _DOTTED.match(text):
        letter, head, tail = match.group("letter").upper(), match.group("head"), match.group("tail")
        width, most = _SHAPE[letter]
        if len(head) > width or len(tail) > most or (len(head) < width and not prefixed):
            return None
        return Icd9Code(f"{letter}{head.zfill(width)}{tail}", True)
    if match := _UNDOTTED.match(text):
        letter, digits = match.group("letter").upper(), match.group("digits")
        width, most = _SHAPE[letter]
        if not width <= len(digits) <= width + most:
            return None
        return Icd9Code(f"{letter}{digits}", prefixed is not None)
    return None


def dotted(key: str) -> str:
    """An undotted code (``2765``, ``V4581``, ``E8781``) with its dot, as people write it.

    Example:
        >>> dotted("4019"), dotted("V103"), dotted("250")
        ('401.9', 'V10.3', '250')
    """
    width = 4 if key[:1].upper() == "E" else 3
    return f"{key[:width]}.{key[width:]}" if len(key) > width else key
