"""The ranker's model card, its dev figures and its reliability diagram.

``kedrec train ranker`` writes the card (``RANKER_CARD.md`` beside the artifact) with the
training data, split, masking, seed, features, cross-validation figures and the command;
``kedrec eval exprxrec --ranker --record-ranker`` fills in its dev section with the figures of the
run (ranker and kg-path measured together) and draws the reliability diagram.

Example:
    >>> write_card(result.artifact, Path("RANKER_CARD.md"), command="kedrec train ranker")
    ... # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kedrec_agent.ranking.features import FEATURE_DOCS
from kedrec_agent.ranking.model import PACKAGED_RANKER, expanded_names
from training.ranker import ece

CARD_NAME = "RANKER_CARD.md"
DEV_BEGIN = "<!-- dev figures: written by `kedrec eval exprxrec --ranker --record-ranker` -->"
DEV_END = "<!-- /dev figures -->"
DEV_PENDING = (
    "Not measured yet: `KEDREC_ADAPTER=none kedrec eval exprxrec --no-models --ranker "
    "--record-ranker` writes them here."
)


def card_path(artifact: Path | None = None) -> Path:
    """The card beside an artifact (default: the shipped one's)."""
    return (artifact or PACKAGED_RANKER).with_name(CARD_NAME)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}"


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def write_card(artifact: Mapping[str, Any], path: Path, *, command: str) -> Path:
    """Write the model card of ``artifact`` to ``path`` (any dev section already there is kept).

    Args:
        artifact: the artifact's JSON object (:func:`training.ranker.train_ranker`).
        path: the card's path.
        command: the command that trained it.
    """
    meta = artifact.get("metadata", {})
    model = artifact["model"]
    weights = meta.get("importance") or dict.fromkeys(expanded_names(artifact["features"]), 0.0)
    linear = model.get("family") == "logistic-regression"
    sign = "+" if linear else ""
    cv: Mapping[str, Any] = meta.get("cv", {})
    lines = [
        "# Model card: KEDRec candidate ranker",
        "",
        f"{'A logistic regression' if linear else 'Gradient-boosted regression trees'} over "
        "named features of the evidence the agent's tools return for each candidate drug of "
        "a condition (`kedrec_agent/ranking/features.py`), calibrated by a softmax "
        "temperature over each condition's candidates. It gives "
        "each candidate the probability of being the right choice among them; it replaces "
        "the hand-set evidence support (`kedrec_agent/reasoning/ranking.py`) where the "
        "agent uses it. Artifact: `ranker.json` (numpy at serving, no pickle).",
        "",
        "## Training",
        "",
        f"- Command: `{command}`",
        f"- Trained: {meta.get('trained_at', '-')}, seed {meta.get('seed')}; cross-validation "
        f"and fitting {meta.get('seconds', 0):.0f} s, the whole command "
        f"{meta.get('total_seconds', 0):.0f} s with the evidence cached",
        f"- Data: KG `{meta.get('data_version', '-')}`, tasks file `{meta.get('tasks_file', '-')}`"
        f" (sha256 {meta.get('tasks_sha256', '-')}), literature "
        f"{'on' if meta.get('literature', True) else 'off'}",
        f"- Split: the bundle's **train** diseases only ({meta.get('train_diseases')} diseases, "
        f"{meta.get('train_tasks')} tasks); a task list touching a dev disease is refused.",
        "- Masking: the protocol's. Each task is answered with every indication edge of its "
        "disease (and DOID/MeSH equivalents) hidden, the gold included (repurposing), as at "
        f"evaluation; a second copy of {meta.get('train_known_copies')} tasks shows the "
        "positive's own indication edges (a known indication), so that the ranker also "
        "trusts a direct indication. Literature is not masked (as in the evaluation).",
        f"- Rows: {meta.get('train_rows')} candidates; positive = the task's true drug.",
        f"- Model: `{meta.get('chosen')}` ({model.get('family')}) over each feature and its "
        "gap to the best candidate of the condition, chosen among the configurations below "
        f"by {meta.get('folds')}-fold cross-validation on the train split grouped by disease "
        "(top-1 accuracy on the repurposing copies, then log-loss); the best logistic "
        f"regression was `{meta.get('best_linear')}`.",
        f"- Calibration: softmax temperature {artifact['calibration']['temperature']:.3f} "
        "over each task's candidates, fitted on the out-of-fold scores.",
        "",
        "## Cross-validation on the train split (out-of-fold)",
        "",
        "| configuration | acc (repurposing) | log-loss | ECE (10 bins) | ECE (5 bins) "
        "| acc (known indication) |",
        "|---|---|---|---|---|---|",
    ]
    for name, figures in cv.items():
        rep, known = figures.get("repurposing", {}), figures.get("known", {})
        lines.append(
            f"| {name} | {_pct(rep.get('accuracy'))} | {_num(rep.get('nll'))} | "
            f"{_num(rep.get('ece10'))} | {_num(rep.get('ece5'))} | {_pct(known.get('accuracy'))} |"
        )
    fitted = meta.get("fitted", {}).get("repurposing", {})
    lines += [
        "",
        f"Refitted on all train rows (in-sample): accuracy {_pct(fitted.get('accuracy'))} on "
        "the repurposing copies.",
        "",
        "## Features",
        "",
        "Computed by `candidate_features` (the same function at training and serving); the "
        "artifact refuses to load if its list differs from the code's. Missing optional "
        "data (no graph, no literature, no `safety/` tables) gives 0. "
        + (
            "Weights are per standard deviation."
            if linear
            else "Importance: the share of the trees' impurity decrease (all inputs sum to 1)."
        ),
        "",
        f"| feature | what | {'weight' if linear else 'importance'} | of the gap to the best |",
        "|---|---|---|---|",
    ]
    for name in artifact["features"]:
        lines.append(
            f"| `{name}` | {FEATURE_DOCS.get(name, '')} | {weights[name]:{sign}.3f} | "
            f"{weights[f'{name}_vs_best']:{sign}.3f} |"
        )
    dev = DEV_PENDING
    if path.is_file():
        found = re.search(
            re.escape(DEV_BEGIN) + r"\n(.*?)\n" + re.escape(DEV_END), path.read_text(), re.S
        )
        if found and artifact_unchanged(path, artifact):
            dev = found.group(1).strip()
    lines += [
        "",
        "## Dev split (all masked dev tasks)",
        "",
        DEV_BEGIN,
        dev,
        DEV_END,
        "",
        "## Limits",
        "",
        "- Trained on expRxRec-style tasks: one true indication among four hard negatives. "
        "At serving the candidates of a condition may hold several right answers (or none); "
        "the probabilities still sum to 1 over them.",
        "- The known-indication copies show one candidate with a direct edge; how the ranker "
        "orders several directly indicated candidates was not trained separately.",
        f"<!-- artifact: {artifact_fingerprint(artifact)} -->",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


def artifact_fingerprint(artifact: Mapping[str, Any]) -> str:
    """A short fingerprint of the weights (the card's dev figures belong to one artifact)."""
    import hashlib
    import json

    payload = json.dumps([artifact["model"], artifact["calibration"]], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def artifact_unchanged(card: Path, artifact: Mapping[str, Any]) -> bool:
    """Whether the card at ``card`` was written for these weights."""
    return f"<!-- artifact: {artifact_fingerprint(artifact)} -->" in card.read_text()


def record_dev_figures(card: Path, text: str) -> Path:
    """Replace the card's dev section with ``text``."""
    content = card.read_text()
    pattern = re.escape(DEV_BEGIN) + r"\n.*?\n" + re.escape(DEV_END)
    if not re.search(pattern, content, re.S):
        content += f"\n{DEV_BEGIN}\n{text}\n{DEV_END}\n"
    else:
        content = re.sub(pattern, lambda _: f"{DEV_BEGIN}\n{text}\n{DEV_END}", content, flags=re.S)
    card.write_text(content)
    return card


def reliability_plot(curves: Mapping[str, Mapping[str, Any]], path: Path) -> Path | None:
    """A reliability diagram of each method's calibration bins (``None``: no matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    for name, curve in curves.items():
        bins = curve.get("bins", [])
        ax.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            marker="o",
            label=f"{name} (ECE {curve['ece']:.3f})",
        )
    ax.set_xlabel("confidence of the chosen drug")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def selection_summary(
    result: dict[str, Any],
    mismatched: Sequence[str],
    out: Path,
    *,
    command: str,
    artifact: Path | None = None,
    record: bool = False,
) -> str:
    """Summarise the ranker against kg-path over all tasks of an expRxRec run.

    Adds ``mismatched_evidence`` (tasks whose structured evidence did not rebuild the cached
    reasoning task) and the reliability diagram's path to ``result``; with ``record``, also
    writes the dev section of the artifact's card.

    Returns:
        The lines to print.
    """
    methods = result["methods"]
    methods["ranker"]["mismatched_evidence"] = len(mismatched)
    curves = {
        name: methods[name]["metrics"]["calibration"]
        for name in ("kg-path", "ranker")
        if name in methods and "calibration" in methods[name]["metrics"]
    }
    plot = reliability_plot(curves, out / "exprxrec-reliability.png")
    result["reliability_plot"] = str(plot) if plot else None
    rows = []
    for name in ("random", "popularity", "kg-path", "kg-embedding", "ranker"):
        if name not in methods:
            continue
        f = methods[name]["metrics"]
        calib = f.get("calibration", {})
        answered = [r for r in methods[name].get("records", ()) if r.get("confidence") is not None]
        ece10 = (
            _num(ece([r["confidence"] for r in answered], [r["correct"] for r in answered]))
            if calib and answered
            else "-"
        )
        rows.append(
            f"| {name} | {_pct(f['accuracy'])} | {_pct(f['macro_f1'])} | "
            f"{_num(calib.get('ece')) if calib else '-'} | {ece10} | {_pct(f['abstention'])} | "
            f"{int(f['tasks'])} |"
        )
    masking = "lineage (stricter)" if result.get("mask_lineage") else "the protocol's"
    text = "\n".join(
        [
            f"Measured {dt.date.today().isoformat()} by `{command}` (data hash "
            f"{result.get('data_hash')}): all {result.get('tasks_with_evidence')} dev tasks "
            f"with evidence, {masking} masking, every method in the same run from the same "
            "evidence. ECE: equal-width bins of the chosen drug's confidence, 5 (the "
            "harness's) and 10.",
            "",
            "| method | accuracy | macro-F1 | ECE (5 bins) | ECE (10 bins) | abstain | tasks |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Tasks whose structured evidence differed from the cached reasoning task: "
            f"{len(mismatched)}.",
        ]
    )
    if record:
        record_dev_figures(card_path(artifact), text)
    return text
