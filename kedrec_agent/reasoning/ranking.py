"""How much evidence backs each candidate: the one ranking the prompt, fallback and baselines share.

The strongest kind of evidence decides (a direct indication over a related one over a
mechanism path over a passage); the amount breaks ties. A plain sum would let the passages
that every candidate gets outweigh one indication.
"""

from __future__ import annotations

from collections.abc import Iterable

from kedrec_agent.reasoning.schema import Candidate, Evidence, ReasoningTask

PER_ITEM = 0.1
"""What each further evidence item adds to a candidate's strongest one."""

SIMILAR = 0.5
"""A safe alternative with at least this share of an interacting drug's support is "similarly
supported": the drug with a major interaction with a current medication goes behind it."""


def support(evidence: Iterable[Evidence]) -> dict[str, float]:
    """Per drug with evidence: its strongest item's priority plus :data:`PER_ITEM` per item.

    A pharmacologic class item (``topic == "class"``) is context, not support: it says what
    the drug is, not that it treats the condition (counting it cost the evidence ranking
    0.8 points of dev selection).
    """
    best: dict[str, float] = {}
    count: dict[str, int] = {}
    for item in evidence:
        if item.topic == "class":
            continue
        for drug in item.drugs:
            best[drug] = max(best.get(drug, 0.0), max(0.0, item.priority))
            count[drug] = count.get(drug, 0) + 1
    return {drug: best[drug] + PER_ITEM * count[drug] for drug in best}


def support_weights(task: ReasoningTask) -> dict[str, float]:
    """Every candidate's :func:`support` from its shown evidence (0 without any)."""
    weights = support(task.evidence)
    return {c.id: weights.get(c.id, 0.0) for c in task.candidates}


def ranked_by_ranker(task: ReasoningTask) -> bool:
    """Whether every candidate (there is at least one) has a learned-ranker probability."""
    return bool(task.candidates) and all(c.probability is not None for c in task.candidates)


def evidence_weights(task: ReasoningTask) -> dict[str, float]:
    """Every candidate's ranker probability if all have one, else :func:`support_weights`."""
    if ranked_by_ranker(task):
        return {c.id: c.probability or 0.0 for c in task.candidates}
    return support_weights(task)


MAJOR_INTERACTION = 4
"""What a major interaction with a current medication (or an earlier choice) weighs."""

CAUTION = {"strong": 2, "weak": 1}
"""What a caution weighs in :func:`avoid`, by ``Candidate.caution_strength``: a Beers "avoid"
or a boxed warning outweighs a side effect SIDER lists without a frequency (allopurinol's
"cardiac failure" must not put febuxostat, boxed-warned for cardiovascular death, first)."""


def avoid(candidate: Candidate) -> int:
    """How much to avoid it: :data:`MAJOR_INTERACTION` plus its :data:`CAUTION`, 0 if neither."""
    caution = CAUTION[candidate.caution_strength] if candidate.caution is not None else 0
    return MAJOR_INTERACTION * (candidate.interaction == "major") + caution


def ranked_candidates(task: ReasoningTask) -> list[Candidate]:
    """The candidates, best first.

    With the learned ranker's probabilities (every candidate has one): the candidates with an
    indication edge first, in the clinical order (the ranker does not tell established
    treatments apart), then the others by probability; else the clinical candidate order
    (``Candidate.rank``, set when the knowledge-graph tool generated and ranked the candidates)
    when every candidate has one; otherwise the strongest evidence first (ties keep the given
    order). Either way a candidate to avoid (a major interaction with a current medication, or
    a ``caution`` such as a cephalosporin for a penicillin-allergic patient) is never ranked
    above a similarly supported alternative less to avoid (:func:`avoid`: a weak caution is
    less to avoid than a strong one) (:data:`SIMILAR` of its weight, see
    :func:`evidence_weights`; with the ranker, an indicated drug's alternatives are indicated
    drugs): it goes just behind the last such alternative. A drug with a moderate
    interaction gives its place to a same-class alternative without one
    (:func:`_same_class_first`).
    """
    weight = evidence_weights(task)
    given = {c.id: n for n, c in enumerate(task.candidates)}
    ranker = ranked_by_ranker(task)
    if ranker:
        order = sorted(
            task.candidates,
            key=lambda c: (
                not c.indicated,
                (c.rank or 0) if c.indicated else -weight[c.id],
                given[c.id],
            ),
        )
    elif all(c.rank is not None for c in task.candidates):
        order = sorted(task.candidates, key=lambda c: c.rank or 0)
    else:
        order = sorted(task.candidates, key=lambda c: -weight[c.id])
    for cand in sorted((c for c in order if avoid(c)), key=avoid):
        similar = [
            i
            for i, d in enumerate(order)
            if avoid(d) < avoid(cand)
            and weight[d.id] >= SIMILAR * weight[cand.id]
            # with the ranker, a drug without an indication is no alternative to one with
            and (d.indicated or not cand.indicated or not ranker)
        ]
        if similar and similar[-1] > order.index(cand):
            order.remove(cand)
            order.insert(similar[-1], cand)  # the list shrank by one: just behind it
    return _same_class_first(order, weight)


CONCERN = {"moderate": 2, "unknown": 1}
"""How much a same-class alternative is preferred for an interaction: a moderate one, or one
of unknown severity (DrugBank lists it, DDInter has no level: not "safe", see the bundle's
README), over a minor one or none."""


def _same_class_first(order: list[Candidate], weight: dict[str, float]) -> list[Candidate]:
    """A same-class alternative with a lesser interaction takes the place of a drug with one.

    A drug with a moderate interaction (or one of unknown severity) gives its place to an
    alternative that shares a pharmacologic class (``Candidate.classes``), is at least
    :data:`SIMILAR` as supported, has a lesser interaction (:data:`CONCERN`: none, minor,
    or unknown for a moderate one) and nothing else to avoid: the substitution a prescriber
    makes (another beta blocker, another statin). A drug without such a classmate keeps its
    place: moving an established drug behind any less established one to avoid a moderate
    interaction made worse choices.
    """
    concern = {c.id: CONCERN.get(c.interaction or "", 0) for c in order}
    for cand in [c for c in order if concern[c.id] and c.classes]:
        here = order.index(cand)
        mates = [
            i
            for i, d in enumerate(order)
            if i > here
            and set(d.classes) & set(cand.classes)
            and concern[d.id] < concern[cand.id]
            and not avoid(d)  # no major interaction, no caution
            and weight[d.id] >= SIMILAR * weight[cand.id]
        ]
        if mates:
            order.insert(here, order.pop(mates[0]))  # the classmate takes its place
    return order
