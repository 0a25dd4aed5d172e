"""The agent in set mode: KEDRec's answers as ATC-3 class sets for the SafeDrug protocol.

The protocol asks, per later visit, for the set of ATC level-3 classes prescribed (see
:mod:`.protocol`). The agent answers a patient with a few DrugBank drugs per problem, so
:class:`AgentSetMode` turns one agent call per visit into two
:data:`~.protocol.SetRecommender` methods:

* the patient is :func:`~kedrec_agent.patients.mimic.from_mimic` of the visit's admission
  (its ICD-9 diagnoses, age, sex; never its prescriptions) with, as current medications,
  the DrugBank ids of the **previous** visit's prescriptions (``PRESCRIPTIONS`` names of
  that earlier admission, mapped by the linker). The evaluated admission's prescriptions
  are never read for it: :func:`previous_admission` refuses a history that holds it;
* the set is the previous visit's classes, carried over with score :data:`CARRIED_SCORE`
  (1.0: clinicians already prescribe them), plus the classes of the agent's drugs (at most
  ``max_drugs``, taken in turn from each problem's options), each scored
  :func:`agent_score` of the drug's ranker probability (its evidence score without the
  ranker): 0.5 to :data:`AGENT_CEILING`, so always in the set and ranked after the
  carried classes;
* ``agent`` (with safety): the drugs the agent's safety stage vetoed stay out, and a class
  the agent proposes that interacts (the protocol's :class:`~.ddi.ClassDDI`, the relation
  of the DDI rate) with a carried class or with an already kept proposed class is withheld,
  proposals taken best score first; carried classes are never withheld;
* ``agent-no-safety`` (the ablation): the agent's vetoed drugs are put back (score 0.5)
  and no class is withheld.

Both methods read the same cached agent answer (by ``HADM_ID``): the agent runs once per
visit, and the ablation's time is the set construction only.

Example:
    >>> mode = AgentSetMode.from_agent(literature=False)  # doctest: +SKIP
    >>> result = run_protocol(recommenders=mode.recommenders())  # doctest: +SKIP
    >>> result["methods"]["agent"]["jaccard"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedrec_agent.errors import KedrecError
from kedrec_agent.patients.mimic import default_mimic_dir, from_mimic
from kedrec_agent.patients.model import MAX_ITEMS, PatientInput
from training.evaluation.safedrug.ddi import DEFAULT_LEVEL, ClassDDI, DDILevel, drug_classes
from training.evaluation.safedrug.protocol import SET_THRESHOLD, SetRecommender
from training.evaluation.safedrug.visits import Visit

if TYPE_CHECKING:
    from kedrec_agent.agent.result import AgentResult, DrugRecommendation

log = logging.getLogger(__name__)

AgentFn = Callable[[PatientInput], "AgentResult"]
"""Answers one patient (:func:`kedrec_agent.api.recommend` with settings; tests: a fake)."""

DrugNameMapper = Callable[[str], Sequence[str]]
"""A prescription name -> its DrugBank ids (:class:`training.evaluation.mimic.DrugMapper`)."""

CARRIED_SCORE = 1.0
"""Score of a class of the previous visit, carried over."""

AGENT_CEILING = 0.95
"""Highest score of a class the agent proposes (below :data:`CARRIED_SCORE`)."""

METHODS = ("agent", "agent-no-safety")
"""The two methods' names, as in the drug-level evaluation (:mod:`training.evaluation.mimic`)."""


class LeakageError(AssertionError):
    """The evaluated visit's own prescriptions would reach the agent."""


def agent_score(confidence: float | None) -> float:
    """The score of a class the agent proposes, from its drug's confidence in [0, 1].

    ``0.5 + (AGENT_CEILING - 0.5) * confidence``: at least :data:`~.protocol.SET_THRESHOLD`
    (every proposal is in the set), below :data:`CARRIED_SCORE` (carried classes rank
    first in PRAUC), monotone in the confidence (``None``: 0).

    Example:
        >>> agent_score(None), agent_score(1.0)
        (0.5, 0.95)
    """
    value = min(max(confidence or 0.0, 0.0), 1.0)
    return SET_THRESHOLD + (AGENT_CEILING - SET_THRESHOLD) * value


def previous_admission(visit: Visit, history: Sequence[Visit]) -> int | None:
    """The HADM_ID whose prescriptions are the patient's current medications.

    The last visit of ``history`` (the protocol's earlier visits), never ``visit`` itself.

    Raises:
        LeakageError: the history holds the evaluated admission.
    """
    if any(earlier.hadm_id == visit.hadm_id for earlier in history):
        raise LeakageError(
            f"admission {visit.hadm_id} is both evaluated and in its own history: its "
            "prescriptions must not reach the agent"
        )
    return history[-1].hadm_id if history else None


@dataclass(frozen=True)
class Proposal:
    """The agent's answer for one visit, as the set construction needs it.

    Attributes:
        drugs: the recommended drugs (DrugBank id, confidence), best first.
        vetoed: the drugs its safety stage withheld (not recommended).
        current: the current medications given (DrugBank ids of the previous visit).
        abstained: the agent abstained (or failed: ``error`` says why).
        seconds: the agent call's wall time.
        error: the error's type name when the call failed.
    """

    drugs: tuple[tuple[str, float | None], ...] = ()
    vetoed: tuple[str, ...] = ()
    current: tuple[str, ...] = ()
    abstained: bool = False
    seconds: float = 0.0
    error: str = ""


def proposal_of(
    result: AgentResult, max_drugs: int | None, current: Sequence[str] = ()
) -> Proposal:
    """The drugs of an agent answer, at most ``max_drugs`` taken in turn from each problem.

    The first option of each problem, then the second, ... (as
    :func:`training.evaluation.mimic.agent_recommender` does); a drug's confidence is its
    ranker probability, else its evidence score.
    """
    groups = [drugs for _, drugs in result.grouped()]
    depth = max((len(g) for g in groups), default=0)
    turns = [g[i] for i in range(depth) for g in groups if i < len(g)]
    first: dict[str, DrugRecommendation] = {}
    for drug in turns:
        first.setdefault(drug.drug_id, drug)
    chosen = list(first.values()) if max_drugs is None else list(first.values())[:max_drugs]
    drugs = tuple(
        (d.drug_id, d.probability if d.probability is not None else d.score) for d in chosen
    )
    recommended = {d.drug_id for d in result.recommendations}
    vetoed = tuple(
        dict.fromkeys(
            w.drug_id
            for w in result.warnings
            if w.severity == "veto" and w.drug_id and w.drug_id not in recommended
        )
    )
    return Proposal(drugs, vetoed, tuple(current), result.abstained)


def class_scores(
    carried: Collection[str],
    proposed: Mapping[str, float],
    ddi: ClassDDI | None,
) -> tuple[dict[str, float], list[str]]:
    """Carried classes at :data:`CARRIED_SCORE` plus the proposed classes that are kept.

    Args:
        carried: the previous visit's classes (never withheld).
        proposed: the agent's classes and their scores.
        ddi: with a relation (safety on), a proposed class that interacts with a carried
            class or an already kept proposed class is withheld (proposals best score
            first, ties by class); ``None``: every proposal kept.

    Returns:
        ``({class: score}, withheld classes)``.

    Example:
        >>> ddi = ClassDDI.from_pairs([("B01A", "M01A")])
        >>> class_scores({"B01A"}, {"M01A": 0.9, "C07A": 0.6}, ddi)
        ({'B01A': 1.0, 'C07A': 0.6}, ['M01A'])
    """
    scores = {c: CARRIED_SCORE for c in sorted(carried)}
    withheld: list[str] = []
    for klass, score in sorted(proposed.items(), key=lambda item: (-item[1], item[0])):
        if klass in scores:
            continue
        if ddi is not None and any(ddi.interacts(klass, other) for other in scores):
            withheld.append(klass)
            continue
        scores[klass] = score
    return scores, withheld


@dataclass
class AgentSetMode:
    """The agent as the protocol's ``agent`` and ``agent-no-safety`` methods.

    Attributes:
        agent: answers one patient (e.g. :func:`kedrec_agent.api.recommend` with Context
            settings; see :meth:`from_agent`).
        mimic_dir: the MIMIC-III tables the protocol reads (default: the bundled demo).
        ddi: the protocol's ATC-3 relation, used by the safety rule (default: the
            bundle's at ``ddi_level``, loaded on first use).
        ddi_level: the level of the default relation.
        mapper: prescription name -> DrugBank ids (default: the linker's
            :class:`~training.evaluation.mimic.DrugMapper`).
        classes: DrugBank id -> ATC-3 classes (default: the bundle's
            ``safety/atc_drugbank42.tsv``, as the DDI relation places drugs).
        max_drugs: agent drugs per visit (in turn from each problem; ``None``: all).
        admissions: the HADM_IDs whose prescription names may be read (default: all).
    """

    agent: AgentFn
    mimic_dir: Path | None = None
    ddi: ClassDDI | None = None
    ddi_level: DDILevel = DEFAULT_LEVEL
    mapper: DrugNameMapper | None = None
    classes: Mapping[str, frozenset[str]] | None = None
    max_drugs: int | None = 3
    admissions: Collection[int] | None = None
    _cache: dict[int, Proposal] = field(default_factory=dict, repr=False)
    _names: dict[int, tuple[str, ...]] | None = field(default=None, repr=False)
    _withheld: dict[int, int] = field(default_factory=dict, repr=False)

    @classmethod
    def from_agent(
        cls, mimic_dir: Path | None = None, *, max_drugs: int | None = 3, **settings: Any
    ) -> AgentSetMode:
        """The real agent (:func:`kedrec_agent.api.recommend`) with Context settings.

        Args:
            mimic_dir: the MIMIC-III tables (default: the bundled demo).
            max_drugs: agent drugs per visit; also the Context's ``max_choices``.
            **settings: :class:`~kedrec_agent.agent.context.Context` fields
                (``literature=False`` by default here, for speed).
        """
        from kedrec_agent.api import recommend

        settings.setdefault("literature", False)
        if max_drugs is not None:
            settings.setdefault("max_choices", max_drugs)

        def answer(patient: PatientInput) -> AgentResult:
            return recommend(patient, **settings)

        return cls(answer, mimic_dir=mimic_dir, max_drugs=max_drugs)

    @property
    def folder(self) -> Path:
        """The MIMIC-III folder read."""
        return self.mimic_dir or default_mimic_dir()

    def recommenders(self) -> dict[str, SetRecommender]:
        """``{"agent": with safety, "agent-no-safety": the ablation}`` for the protocol."""
        return {METHODS[0]: self.with_safety, METHODS[1]: self.without_safety}

    def with_safety(self, visit: Visit, history: Sequence[Visit]) -> dict[str, float]:
        """The ``agent`` method: vetoed drugs out, interacting proposed classes withheld."""
        proposal = self.propose(visit, history)
        proposed = self._proposed(proposal.drugs)
        scores, withheld = class_scores(self._carried(history), proposed, self._ddi())
        self._withheld[visit.hadm_id] = len(withheld)
        return scores

    def without_safety(self, visit: Visit, history: Sequence[Visit]) -> dict[str, float]:
        """The ``agent-no-safety`` ablation: vetoed drugs put back, no class withheld."""
        proposal = self.propose(visit, history)
        vetoed = tuple((drug, None) for drug in proposal.vetoed)
        proposed = self._proposed(proposal.drugs + vetoed)
        scores, _ = class_scores(self._carried(history), proposed, None)
        return scores

    def propose(self, visit: Visit, history: Sequence[Visit]) -> Proposal:
        """The agent's answer for a visit: one call per ``HADM_ID``, then cached.

        The agent fails or abstains -> no proposal (the carried classes still answer).
        """
        if visit.hadm_id in self._cache:
            return self._cache[visit.hadm_id]
        current = self.current_medications(visit, history)
        started = time.perf_counter()
        try:
            patient = self.patient(visit, current)
            proposal = proposal_of(self.agent(patient), self.max_drugs, current)
        except KedrecError as exc:
            log.warning("agent on admission %d: %s", visit.hadm_id, type(exc).__name__)
            proposal = Proposal(current=current, abstained=True, error=type(exc).__name__)
        proposal = dataclasses.replace(proposal, seconds=time.perf_counter() - started)
        self._cache[visit.hadm_id] = proposal
        return proposal

    def patient(self, visit: Visit, current: Sequence[str]) -> PatientInput:
        """The admission's patient (:func:`from_mimic`) with ``current`` as medications."""
        patient = from_mimic(visit.hadm_id, self.folder)
        if patient.medications:  # from_mimic never reads PRESCRIPTIONS
            raise LeakageError(f"admission {visit.hadm_id}: the patient came with medications")
        data = patient.model_dump()
        data["medications"] = list(current)[:MAX_ITEMS]
        return PatientInput.model_validate(data)

    def current_medications(self, visit: Visit, history: Sequence[Visit]) -> tuple[str, ...]:
        """DrugBank ids of the previous visit's prescriptions (never ``visit``'s own).

        Raises:
            LeakageError: the history holds the evaluated admission.
        """
        previous = previous_admission(visit, history)
        if previous is None:
            return ()
        mapper = self._mapper()
        ids = (i for name in self._prescription_names(previous) for i in mapper(name))
        return tuple(dict.fromkeys(ids))

    def summary(self) -> dict[str, Any]:
        """Agent calls, abstentions, failures, time per call, medications, withheld classes."""
        done = list(self._cache.values())
        calls = len(done)
        return {
            "calls": calls,
            "abstained": sum(p.abstained for p in done),
            "failed": sum(bool(p.error) for p in done),
            "seconds_per_call": sum(p.seconds for p in done) / calls if calls else 0.0,
            "drugs_per_visit": sum(len(p.drugs) for p in done) / calls if calls else 0.0,
            "vetoed_per_visit": sum(len(p.vetoed) for p in done) / calls if calls else 0.0,
            "current_medications_per_visit": (
                sum(len(p.current) for p in done) / calls if calls else 0.0
            ),
            "classes_withheld": sum(self._withheld.values()),
            "max_drugs": self.max_drugs,
            "rule": (
                "previous visit's classes carried (1.0) + the agent's drugs' classes "
                f"(0.5-{AGENT_CEILING}); agent: vetoed drugs out and proposed classes "
                "interacting with a kept class withheld; agent-no-safety: vetoed drugs "
                "back, nothing withheld"
            ),
        }

    def _carried(self, history: Sequence[Visit]) -> frozenset[str]:
        return history[-1].medications if history else frozenset()

    def _proposed(self, drugs: Sequence[tuple[str, float | None]]) -> dict[str, float]:
        classes = self._classes()
        proposed: dict[str, float] = {}
        for drug, confidence in drugs:
            for klass in classes.get(drug, frozenset()):
                proposed[klass] = max(proposed.get(klass, 0.0), agent_score(confidence))
        return proposed

    def _ddi(self) -> ClassDDI:
        if self.ddi is None:
            from training.evaluation.safedrug.ddi import load_class_ddi

            self.ddi = load_class_ddi(self.ddi_level)
        return self.ddi

    def _classes(self) -> Mapping[str, frozenset[str]]:
        if self.classes is None:
            self.classes = drug_classes()
        return self.classes

    def _mapper(self) -> DrugNameMapper:
        if self.mapper is None:
            from kedrec_agent.linking import get_linker
            from training.evaluation.mimic import DrugMapper

            self.mapper = DrugMapper(get_linker())
        return self.mapper

    def _prescription_names(self, hadm_id: int) -> tuple[str, ...]:
        if self._names is None:
            from kedrec_agent.patients.mimic import mimic_admissions
            from training.evaluation.mimic import prescriptions

            wanted = set(self.admissions or mimic_admissions(self.folder))
            named = prescriptions(self.folder, wanted)
            self._names = {h: tuple(dict.fromkeys(n)) for h, n in named.items()}
        return self._names.get(hadm_id, ())
