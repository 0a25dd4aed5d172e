"""MIMIC-III evaluated the way the field measures it: the SafeDrug / GAMENet protocol.

Patients with at least two admissions; per admission, ICD-9 diagnoses and procedures
(and the patient's earlier visits) -> the set of ATC level-3 classes prescribed; Jaccard,
precision / recall / F1, PRAUC, DDI rate and the number of classes, per visit, with
bootstrap 95% intervals. ``kedrec eval mimic --protocol safedrug`` runs it.

Modules, data flowing one way: :mod:`.visits` (the records), :mod:`.cohort` (MIMIC-III
tables -> patients), :mod:`.ddi` (our ATC-3 interaction relation), :mod:`.splits`,
:mod:`.protocol` (the :data:`~.protocol.SetRecommender` hook), :mod:`.encoding`,
:mod:`.baselines`, :mod:`.neural` (a compact SafeDrug-style GRU), :mod:`.scoring`
(metrics and bootstrap), :mod:`.evaluate` (the run), :mod:`.report` (table, plot, JSON),
:mod:`.agent` (the agent in set mode: ``agent`` and ``agent-no-safety``).

Example:
    >>> from training.evaluation.safedrug import run_protocol
    >>> result = run_protocol(recommenders={"agent": my_set_recommender})  # doctest: +SKIP
    >>> mode = AgentSetMode.from_agent(literature=False)  # doctest: +SKIP
    >>> result = run_protocol(recommenders=mode.recommenders())  # doctest: +SKIP
"""

from training.evaluation.safedrug.agent import AgentSetMode
from training.evaluation.safedrug.cohort import Cohort, CohortFilters, build_cohort
from training.evaluation.safedrug.ddi import ClassDDI, load_class_ddi
from training.evaluation.safedrug.evaluate import ProtocolConfig, evaluate, run_protocol
from training.evaluation.safedrug.protocol import (
    SET_THRESHOLD,
    SetRecommender,
    Trainer,
    ranking,
    recommended_set,
)
from training.evaluation.safedrug.visits import Patient, Visit

__all__ = [
    "SET_THRESHOLD",
    "AgentSetMode",
    "ClassDDI",
    "Cohort",
    "CohortFilters",
    "Patient",
    "ProtocolConfig",
    "SetRecommender",
    "Trainer",
    "Visit",
    "build_cohort",
    "evaluate",
    "load_class_ddi",
    "ranking",
    "recommended_set",
    "run_protocol",
]
