"""The sanity gate of a model rationale: shown only if it reads as an explanation.

A rationale fails when it does not name the chosen drug, repeats a sentence (a looping
model), names another candidate drug where a condition belongs ("Folic acid is the
best-supported candidate for Azacitidine"), names a condition of the patient other than the
one the drug is chosen for and not its own, leaves a bracket open (a generation cut off
mid-citation: "11 known [E12"), cites an evidence id that is not among the items it gives
for its drug, names an identifier or a name found nowhere in what the model was shown
("…none related to Gout in MeSH, Ranxon. … NN [E18]"), or runs past :data:`MAX_CHARS`. A
failed rationale is replaced by a summary templated from the cited evidence, said to be one.

Example:
    >>> rationale_problem("Metformin lowers glucose.", "Metformin", [], "Type 2 diabetes", [])
    >>> rationale_problem("It works.", "Metformin", [], "Type 2 diabetes", [])
    'it does not name Metformin'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence

from kedrec_agent.reasoning.schema import Evidence

MAX_CHARS = 800
"""Longest rationale shown (a longer one is a runaway generation)."""

_FOR = re.compile(r"\bcandidate for ([^.;:,()]+)", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_EVIDENCE_ID = re.compile(r"\bE\d+\b")
_ENTITY_ID = re.compile(
    r"\b(?:MESH|DOID|ICD9|ICD10|UMLS|OMIM|CHEBI):[A-Za-z0-9.]+|\bDB\d{5}\b"
    r"|\bPMID:\s?\d+|\bNCT\d+"
)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def _same(a: str, b: str) -> bool:
    """Whether two names are the same or one contains the other (word-normalised)."""
    x, y = _norm(a), _norm(b)
    return bool(x and y) and (x == y or f" {x} " in f" {y} " or f" {y} " in f" {x} ")


_NAME = re.compile(r"\b(?:[A-Z][a-z]{2,}|[A-Z]{2,})\b")
"""A word read as a name: capitalised (Ranxon) or in capitals (NN, PPARA)."""
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\]\s+)([A-Z][a-z]+)\b")


_PROVENANCE = re.compile(r"\s*\((?:path score [\d.]+|[A-Za-z]+::[^)]*)\)")
"""A graph relation's name or a path score in brackets: "(DRUGBANK::treats::Compound:Disease)"."""


def without_provenance(text: str) -> str:
    """``text`` without graph relation names and path scores (the evidence list keeps them)."""
    return _PROVENANCE.sub("", text)


def cited_ids(text: str) -> list[str]:
    """The evidence ids (``E3``) ``text`` names, in order."""
    return _EVIDENCE_ID.findall(text)


def whole_sentences(text: str) -> str | None:
    """``text`` without a last sentence cut off mid-way (by the answer's length cap).

    ``None`` when ``text`` ends a sentence or a citation already, or has no whole sentence
    with its brackets closed before the cut.
    """
    text = " ".join(text.split())
    if text.endswith((".", "!", "?", ")", "]")):
        return None
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", text)]
    for end in reversed(ends):
        head = text[:end]
        if all(head.count(a) == head.count(b) for a, b in ("()", "[]")):
            return head
    return None


def entity_ids(text: str) -> set[str]:
    """The entity (``MESH:D003924``, ``DB00331``) and reference (``PMID:1``) ids ``text`` names."""
    return {re.sub(r"\s", "", found) for found in _ENTITY_ID.findall(text)}


def words(text: str) -> set[str]:
    """The lower-cased words of ``text`` (what a rationale may name, see ``shown_words``)."""
    return set(re.findall(r"[a-z]+", text.lower()))


def unknown_names(text: str, shown: Collection[str]) -> list[str]:
    """The names ``text`` uses that are not among the ``shown`` words, in order of use.

    A name is a capitalised word other than the first of a sentence ("It", "Both") or a
    word in capitals; anything the model was shown (the evidence, the candidates, the
    patient, the instructions) may be named.
    """
    starts = {m.start(1) for m in _SENTENCE_START.finditer(text)}
    found = [m.group() for m in _NAME.finditer(text) if m.start() not in starts]
    return list(dict.fromkeys(w for w in found if w.lower() not in shown))


def rationale_problem(
    rationale: str,
    drug: str,
    other_drugs: Sequence[str],
    condition: str | None,
    other_conditions: Sequence[str],
    cited: Collection[str] | None = None,
    ids: Collection[str] | None = None,
    shown: Collection[str] | None = None,
) -> str | None:
    """Why ``rationale`` fails the gate, or ``None`` when it passes.

    Args:
        rationale: the model's text for its choice.
        drug: the chosen drug's name.
        other_drugs: the names of the other candidates.
        condition: the name of the condition the drug is chosen for (None: unknown).
        other_conditions: the names of the patient's other conditions.
        cited: the evidence ids the choice cites (about its drug); ``None``: not checked.
            An id the text names outside them is a citation of another drug's evidence.
        ids: the entity identifiers the text may name (the drug's, its condition's, those
            in its evidence); ``None``: not checked. Another one (the allergy's MeSH id
            given as the condition's) is a wrong fact stated as a reference.
        shown: the lower-cased words of what the model was shown (:func:`words`); ``None``:
            not checked. A name outside them (:func:`unknown_names`) is invented.
    """
    text = " ".join(rationale.split())
    if len(text) > MAX_CHARS:
        return f"it is longer than {MAX_CHARS} characters"
    if not _same(drug, text) and _norm(drug) not in _norm(text):
        return f"it does not name {drug}"
    if any(text.count(a) != text.count(b) for a, b in ("()", "[]")):
        return "it is cut off (an unclosed bracket)"
    if cited is not None and (stray := sorted(set(_EVIDENCE_ID.findall(text)) - set(cited))):
        return f"it cites {', '.join(stray)}, not evidence it gives for {drug}"
    if ids is not None and (wrong := sorted(entity_ids(text) - set(ids))):
        return f"it names {', '.join(wrong)}, an identifier of neither {drug} nor its condition"
    if shown is not None and (invented := unknown_names(text, shown)):
        return f"it names {', '.join(invented[:3])}, found nowhere in the evidence"
    sentences = [s for s in _SENTENCE.split(text) if s]
    if len(set(sentences)) < len(sentences):
        return "it repeats a sentence"
    for target in _FOR.findall(text):
        if any(_same(target, other) for other in [drug, *other_drugs]):
            return f"it names a drug ({target.strip()}) where a condition belongs"
        if condition and not _same(target, condition):
            return f"it names {target.strip()} instead of {condition}"
    mentioned = [c for c in other_conditions if _norm(c) and _norm(c) in _norm(text)]
    if condition and mentioned and _norm(condition) not in _norm(text):
        return f"it names {mentioned[0]} instead of {condition}"
    return None


FACT_TOPICS = ("indication", "mechanism", "class", "related", "literature")
"""What a templated summary says, in this order: that the drug is listed for the
condition, how it acts, what class it is, then its related indications or a passage."""

MAX_FACTS = 3
"""Items a templated summary quotes."""


def evidence_facts(evidence: Sequence[Evidence]) -> str:
    """The strongest item of each topic (:data:`FACT_TOPICS` order, :data:`MAX_FACTS` at most).

    One item per topic: a second source of the same indication adds nothing a reader can
    use, how the drug acts does. Items without a topic: the two strongest.
    """
    picked = one_per_topic(evidence, FACT_TOPICS, MAX_FACTS)
    strongest = sorted(evidence, key=lambda e: -e.priority)
    return " ".join(" ".join(e.text.split()) for e in picked or strongest[:2])


def one_per_topic(
    evidence: Sequence[Evidence],
    topics: Sequence[str],
    limit: int,
    topic_of: Callable[[Evidence], str | None] = lambda e: e.topic,
) -> list[Evidence]:
    """The highest-priority item of each of ``topics``, in that order, ``limit`` at most."""
    strongest = sorted(evidence, key=lambda e: -e.priority)
    return [
        item
        for topic in topics
        if (item := next((e for e in strongest if topic_of(e) == topic), None)) is not None
    ][:limit]


def templated_rationale(drug: str, evidence: Sequence[Evidence], problem: str) -> str:
    """A rationale composed from the evidence items (strongest first), said to be one."""
    return (
        f"Evidence summary for {drug} (templated: the model's text was not shown because "
        f"{problem}): {evidence_facts(evidence)}"
    )
