"""Salt, hydrate and mineral forms of drug names, and entities that are no medication.

Prescriptions name drugs with their salt, hydrate and release form ("metformin
hydrochloride ER", "amlodipine besylate", "ferrous sulfate"); DrugBank lists the parent
drug (Metformin), sometimes the salt itself (Potassium chloride, Ferrous sulfate
anhydrous), and also the bare ions (Sulfate ion, Chloride ion) and excipients (Water,
Lactose). The rules, all on normalised keys (:func:`~kedrec_agent.linking.normalize.
normalize`):

* **Index** (:func:`without_hydrate`): a DrugBank name holding a hydrate word
  (:data:`HYDRATE_WORDS`: "anhydrous", "monohydrate", "dihydrate"...) is also indexed
  without it, but only under a key that names no drug otherwise: "Ferrous sulfate
  anhydrous" is found as "ferrous sulfate", "Dextrose anhydrous" does not take "dextrose"
  from Dextrose. A bare "hydrate" is never dropped there ("sodium hydrate" is sodium
  hydroxide).
* **Query** (:func:`parent_keys`): when a name is not itself a vocabulary name, the
  linker tries, in order, British salt spellings ("sulphate" -> "sulfate"); the name less
  its trailing salt, hydrate or release words (:data:`STRIP_WORDS`, one at a time:
  "metformin hcl er" -> "metformin hcl" -> "metformin"), a mineral adjective left alone
  standing for its element (:data:`MINERAL_FORMS`: "ferrous" -> "iron"); then the name less
  a leading cation word ("sodium valproate" -> "valproate"). A salt word never decides a
  match on its own: what is left must name a drug that is a medication (next rule), and a
  fuzzy match of a name with salt words must also match without them (see
  :meth:`~kedrec_agent.linking.linker.Linker.candidates`).
* **No medication** (:func:`inactive_reason`): an entity whose preferred name is a
  counter-ion ("<salt word> ion / cation / anion", e.g. Sulfate ion, Chloride ion,
  Sodium cation, Phosphate ion; but not Lithium cation or Ferric cation, whose stems are
  no salt words), an element that is only ever a salt part or a reagent
  (:data:`INACTIVE_ELEMENTS`: sodium, chlorine, hydrogen) or an excipient
  (:data:`EXCIPIENTS`: water, lactose, microcrystalline cellulose, magnesium stearate,
  stearic acid, silicon dioxide; hydrate forms included) is not what a medication list
  means. A structured medication that links only to one is reported unrecognised, and a
  note's medication mention of one is dropped; allergies keep them (a lactose allergy is
  real). The ions were read off the DrugBank names ending in "ion"/"cation"/"anion"; the
  short lists are the entries of the bundled vocabulary that are never given as a drug.

Example:
    >>> list(parent_keys("ferrous sulfate"))
    ['ferrous', 'iron']
    >>> inactive_reason("Sulfate ion"), inactive_reason("Lithium cation")
    ('an ion', None)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kedrec_agent.linking.normalize import normalize


def _keys(*words: str) -> frozenset[str]:
    return frozenset(normalize(word) for word in words)


HYDRATE_WORDS = _keys(
    *("anhydrous", "monohydrate", "dihydrate", "trihydrate", "tetrahydrate", "pentahydrate"),
    *("hexahydrate", "heptahydrate", "octahydrate", "nonahydrate", "decahydrate"),
    *("dodecahydrate", "hemihydrate", "sesquihydrate"),
)
"""Hydrate forms a drug name may carry; dropped from DrugBank names at index time."""

CATION_WORDS = _keys(
    *("sodium", "disodium", "trisodium", "potassium", "dipotassium", "calcium", "magnesium"),
)
"""Cations of drug salts ("warfarin sodium"); also stripped before a name ("sodium X")."""

ANION_WORDS = _keys(
    *("hydrochloride", "dihydrochloride", "hcl", "hydrobromide", "hbr", "mesylate"),
    *("mesilate", "besylate", "besilate", "maleate", "fumarate", "hemifumarate", "tartrate"),
    *("bitartrate", "succinate", "citrate", "sulfate", "bisulfate", "phosphate", "acetate"),
    *("bromide", "chloride", "nitrate", "lactate", "gluconate", "hyclate", "tosylate"),
    *("napsylate", "oxalate", "pamoate", "carbonate", "bicarbonate", "hydroxide", "borate"),
    *("propionate", "dipropionate", "furoate", "xinafoate", "valerate", "stearate"),
    *("glycinate", "bisglycinate", "aspartate", "ascorbate", "sulfite", "hydrogen"),
)
"""Anions (and acid-addition words) of drug salts ("amlodipine besylate")."""

RELEASE_WORDS = _keys("er", "xr", "sr", "cr", "xl", "dr", "la", "odt", "ir")
"""Release-form words of prescriptions ("metformin ER")."""

STRIP_WORDS = CATION_WORDS | ANION_WORDS | HYDRATE_WORDS | RELEASE_WORDS | _keys("hydrate")
"""Trailing words that do not change the drug a name stands for."""

SPELLINGS = {"sulphate": "sulfate", "bisulphate": "bisulfate", "sulphite": "sulfite"}
"""British salt spellings and the DrugBank ones."""

MINERAL_FORMS = {
    "ferrous": "iron",
    "ferric": "iron",
    "cupric": "copper",
    "cuprous": "copper",
    "stannous": "tin",
    "mercuric": "mercury",
    "mercurous": "mercury",
}
"""Mineral adjectives and the element they stand for ("ferrous sulfate" -> iron)."""

INACTIVE_ELEMENTS = _keys("sodium", "chlorine", "hydrogen")
"""Elements that are a salt part or a reagent, never a medication by themselves."""

EXCIPIENTS = _keys(
    *("water", "lactose", "microcrystalline cellulose", "magnesium stearate", "stearic acid"),
    "silicon dioxide",
)
"""Excipients (vehicles, fillers, lubricants) of the vocabulary: never a medication."""

COUNTER_IONS = CATION_WORDS | ANION_WORDS
"""Salt words whose ion is a counter-ion (Sulfate ion), not an active moiety."""

SALT_TOKENS = STRIP_WORDS | frozenset(SPELLINGS)
"""Every word of a name that only says which salt, hydrate or release form it is."""

_ION = re.compile(r"^(?P<stem>.+?)\s+(?:ions?|cation|anion|dianion)\s*(?:\([^()]*\))?$", re.I)
_HYDRATE = re.compile(
    r"(?P<open>\(\s*)?\b(?:" + "|".join(sorted(HYDRATE_WORDS)) + r")\b(?(open)\s*\))", re.I
)


def without_hydrate(name: str) -> str | None:
    """``name`` less its hydrate words, or None when it has none (or nothing else).

    Example:
        >>> without_hydrate("Ferrous sulfate anhydrous"), without_hydrate("Ampicillin")
        ('Ferrous sulfate', None)
        >>> without_hydrate("Edetate calcium disodium (anhydrous)")
        'Edetate calcium disodium'
    """
    stripped = _HYDRATE.sub(" ", name)
    if stripped == name:
        return None
    stripped = re.sub(r"\s*,(\s*,)+", ",", stripped)
    stripped = re.sub(r"\s+", " ", stripped).strip(" ,;")
    return stripped if normalize(stripped) else None


def parent_keys(key: str) -> Iterator[str]:
    """Keys that a salt, hydrate or release form may name the parent drug under.

    The caller tries them in order and keeps the first that names a medication (see the
    module docstring): a key left with a salt word only ("sulfate" of "sodium sulfate")
    names an ion at most, which is no medication. ``key`` itself is not yielded.

    Args:
        key: a normalised name.

    Example:
        >>> list(parent_keys("metformin hcl er"))
        ['metformin hcl', 'metformin']
        >>> list(parent_keys("sodium valproate"))
        ['valproate']
    """
    words = key.split()
    respelled = [SPELLINGS.get(w, w) for w in words]
    if respelled != words:
        yield " ".join(respelled)
    seen = {key}
    for start in _starts(respelled):
        trailing = respelled[start:]
        if start and trailing:
            yield from _new(" ".join(trailing), seen)
        while len(trailing) > 1 and trailing[-1] in STRIP_WORDS:
            trailing = trailing[:-1]
            yield from _new(" ".join(trailing), seen)
            if len(trailing) == 1 and trailing[0] in MINERAL_FORMS:
                yield from _new(MINERAL_FORMS[trailing[0]], seen)


def _starts(words: list[str]) -> list[int]:
    """The whole name, then (after leading cation words) the rest of it."""
    starts = [0]
    if len(words) > 1 and words[0] in CATION_WORDS:
        starts.append(1)
    return starts


def _new(key: str, seen: set[str]) -> Iterator[str]:
    if key not in seen:
        seen.add(key)
        yield key


def salt_free(key: str) -> str:
    """A normalised name less every salt, hydrate and release word (may be empty).

    Example:
        >>> salt_free("amlodipine besylate"), salt_free("magnesium sulfate")
        ('amlodipine', '')
    """
    return " ".join(word for word in key.split() if word not in SALT_TOKENS)


def inactive_reason(name: str) -> str | None:
    """Why an entity of this preferred name is no medication, or None when it may be one.

    Args:
        name: the entity's preferred name (DrugBank common name).

    Returns:
        ``"an ion"``, ``"an element"`` or ``"an excipient"``; None otherwise.

    Example:
        >>> [inactive_reason(n) for n in ("Chloride ion", "Water", "Iron", "Metformin")]
        ['an ion', 'an excipient', None, None]
    """
    if match := _ION.match(name.strip()):
        stem = normalize(match.group("stem"))
        if stem in COUNTER_IONS or stem in INACTIVE_ELEMENTS:
            return "an ion"
        return None
    key = normalize(without_hydrate(name) or name)
    if key in INACTIVE_ELEMENTS:
        return "an element"
    if key in EXCIPIENTS:
        return "an excipient"
    return None
