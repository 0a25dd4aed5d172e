"""Which patients train and which are evaluated: SafeDrug's split, or leave one patient out.

* :func:`safedrug_split`: for the full MIMIC-III. Patients in a seeded random order, the
  first 2/3 train, the next 1/6 test, the last 1/6 validation (SafeDrug's proportions
  and slicing; SafeDrug slices its record file in patient order, unshuffled).
* :func:`leave_one_patient_out`: for the demo's handful of patients. Every patient is
  evaluated once, with the trained methods fitted on all the others.

Example:
    >>> split = safedrug_split(patients, seed=0)  # doctest: +SKIP
    >>> len(split.train), len(split.test), len(split.validation)  # doctest: +SKIP
    (4233, 1058, 1059)
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from training.evaluation.safedrug.visits import Patient


@dataclass(frozen=True)
class Split:
    """Patients to train on, to tune on (SafeDrug's validation) and to evaluate."""

    train: tuple[Patient, ...]
    validation: tuple[Patient, ...]
    test: tuple[Patient, ...]


@dataclass(frozen=True)
class Fold:
    """One round of the evaluation: methods fitted on ``train``, evaluated on ``evaluate``."""

    train: tuple[Patient, ...]
    evaluate: tuple[Patient, ...]


def safedrug_split(patients: Sequence[Patient], seed: int = 0) -> Split:
    """2/3 train, 1/6 test, 1/6 validation, by patient, in a seeded order.

    Args:
        patients: the cohort's patients.
        seed: seeds the order.
    """
    order = list(patients)
    random.Random(seed).shuffle(order)
    cut = int(len(order) * 2 / 3)
    test_size = int((len(order) - cut) / 2)
    return Split(
        train=tuple(order[:cut]),
        test=tuple(order[cut : cut + test_size]),
        validation=tuple(order[cut + test_size :]),
    )


def leave_one_patient_out(patients: Sequence[Patient]) -> Iterator[Fold]:
    """One fold per patient: that patient evaluated, all the others for training."""
    every = tuple(patients)
    for index, patient in enumerate(every):
        yield Fold(train=every[:index] + every[index + 1 :], evaluate=(patient,))
