"""A compact peer model in the GAMENet / SafeDrug line: GRUs over a patient's visits.

It follows the patient representation of SafeDrug (Yang et al., IJCAI 2021, "SafeDrug:
Dual Molecular Graph Encoders for Recommending Effective and Safe Drug Combinations"),
itself GAMENet's (Shang et al., AAAI 2019): each visit's diagnoses and procedures are
embedded (a linear map of the multi-hot codes, i.e. a sum of code embeddings), run
through one GRU each over the visits, and the two last states give a sigmoid score per
ATC-3 class; the loss is binary cross-entropy plus SafeDrug's DDI penalty
(:attr:`GRUConfig.ddi_weight` times the expected number of interacting pairs,
``sum_ij p_i A_ij p_j``).

Simplified on purpose: no molecular graph encoders (SafeDrug's bipartite and MPNN
modules need the drugs' SMILES), no GAMENet memory bank over all earlier visits (the
previous visit's classes are embedded instead), a fixed DDI weight instead of SafeDrug's
controller towards a target DDI rate, no multi-label margin loss, a fixed number of
optimizer steps instead of model selection on the validation patients. Trained seeded on
the CPU: seconds on the demo.

Example:
    >>> recommend = gru_trainer(ddi)(training_patients)  # doctest: +SKIP
    >>> recommend(visit.without_medications(), earlier_visits)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.evaluation.safedrug.ddi import ClassDDI
from training.evaluation.safedrug.encoding import Vocabulary, multi_hot
from training.evaluation.safedrug.protocol import SetRecommender, Trainer, around_threshold
from training.evaluation.safedrug.visits import Patient, Visit


@dataclass(frozen=True)
class GRUConfig:
    """Hyper-parameters of the peer model (fixed: no tuning on the evaluated patients).

    Attributes:
        dim: embedding and GRU width.
        epochs: passes over the training patients ...
        min_steps: ... but at least this many optimizer steps (small cohorts).
        batch_size: patients per step.
        learning_rate: Adam's step size.
        weight_decay: Adam's L2 term.
        ddi_weight: weight of the expected interacting pairs in the loss (SafeDrug: 0.0005).
        threshold: probability from which a class is recommended.
        seed: seeds the initial weights and the batch order.
    """

    dim: int = 64
    epochs: int = 25
    min_steps: int = 300
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    ddi_weight: float = 0.0005
    threshold: float = 0.5
    seed: int = 0


def _sequences(
    vocab: Vocabulary, visits: Sequence[Visit]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diagnoses, procedures and previous classes, multi-hot, one row per visit."""
    classes = vocab.class_index
    diagnoses = [[vocab.diagnoses[c] for c in v.diagnoses if c in vocab.diagnoses] for v in visits]
    procedures = [
        [vocab.procedures[c] for c in v.procedures if c in vocab.procedures] for v in visits
    ]
    previous = [[], *([classes[c] for c in v.medications if c in classes] for v in visits[:-1])]
    return (
        multi_hot(diagnoses, len(vocab.diagnoses)),
        multi_hot(procedures, len(vocab.procedures)),
        multi_hot(previous, len(vocab.classes)),
    )


def _model(vocab: Vocabulary, dim: int) -> Any:
    import torch
    from torch import nn

    class VisitGRU(nn.Module):
        """Code embeddings -> a GRU per code type -> a logit per class."""

        def __init__(self) -> None:
            super().__init__()
            self.diagnoses = nn.Linear(max(len(vocab.diagnoses), 1), dim, bias=False)
            self.procedures = nn.Linear(max(len(vocab.procedures), 1), dim, bias=False)
            self.previous = nn.Linear(max(len(vocab.classes), 1), dim, bias=False)
            self.diagnosis_gru = nn.GRU(dim, dim, batch_first=True)
            self.procedure_gru = nn.GRU(dim, dim, batch_first=True)
            self.head = nn.Sequential(nn.ReLU(), nn.Linear(3 * dim, len(vocab.classes)))

        def forward(self, d: Any, p: Any, m: Any) -> Any:
            hd, _ = self.diagnosis_gru(self.diagnoses(d))
            hp, _ = self.procedure_gru(self.procedures(p))
            return self.head(torch.cat([hd, hp, self.previous(m)], dim=-1))

    return VisitGRU()


def _padded(rows: list[np.ndarray], length: int) -> np.ndarray:
    out = np.zeros((len(rows), length, rows[0].shape[1]), dtype=np.float32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def train_gru(
    patients: Sequence[Patient], ddi: ClassDDI, config: GRUConfig | None = None
) -> SetRecommender:
    """Train the peer model on ``patients`` (every visit a target) and return it.

    Args:
        patients: the training patients.
        ddi: the class interaction relation of the DDI penalty.
        config: hyper-parameters (default :class:`GRUConfig`).
    """
    import torch

    # the process may have turned gradients off (loading the reasoning model does)
    with torch.enable_grad():
        return _train(patients, ddi, config or GRUConfig())


def _train(patients: Sequence[Patient], ddi: ClassDDI, cfg: GRUConfig) -> SetRecommender:
    import torch

    torch.manual_seed(cfg.seed)
    vocab = Vocabulary.from_patients(patients)
    model = _model(vocab, cfg.dim)
    encoded = [_sequences(vocab, p.visits) for p in patients]
    targets = [multi_hot([vocab.labels(v) for v in p.visits], len(vocab.classes)) for p in patients]
    adjacency = torch.tensor(ddi.adjacency(vocab.classes), dtype=torch.float32)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    batches = max(1, math.ceil(len(patients) / cfg.batch_size))
    steps = max(cfg.epochs * batches, cfg.min_steps)
    generator = torch.Generator().manual_seed(cfg.seed)
    order: list[int] = []
    model.train()
    for _ in range(steps):
        if not order:
            order = torch.randperm(len(patients), generator=generator).tolist()
        picked, order = order[: cfg.batch_size], order[cfg.batch_size :]
        length = max(len(patients[i].visits) for i in picked)
        d, p, m = (
            torch.from_numpy(_padded([encoded[i][k] for i in picked], length)) for k in range(3)
        )
        y = torch.from_numpy(_padded([targets[i] for i in picked], length))
        mask = torch.zeros(len(picked), length)
        for row, i in enumerate(picked):
            mask[row, : len(patients[i].visits)] = 1.0
        logits = model(d, p, m)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
        probabilities = torch.sigmoid(logits)
        pairs = 0.5 * torch.einsum("btc,cd,btd->bt", probabilities, adjacency, probabilities)
        visits = mask.sum()
        loss = (bce.mean(dim=-1) * mask).sum() / visits
        loss = loss + cfg.ddi_weight * (pairs * mask).sum() / visits
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    model.eval()

    def recommend(visit: Visit, history: Sequence[Visit]) -> Mapping[str, float]:
        d, p, m = (torch.from_numpy(a)[None] for a in _sequences(vocab, [*history, visit]))
        with torch.no_grad():
            scores = torch.sigmoid(model(d, p, m))[0, -1].tolist()
        return {
            c: around_threshold(s, cfg.threshold)
            for c, s in zip(vocab.classes, scores, strict=True)
        }

    return recommend


def gru_trainer(ddi: ClassDDI, config: GRUConfig | None = None) -> Trainer:
    """The peer model as a :data:`~.protocol.Trainer` (the DDI relation bound)."""

    def train(patients: Sequence[Patient]) -> SetRecommender:
        return train_gru(patients, ddi, config)

    return train
