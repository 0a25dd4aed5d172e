"""The report: ``report.json``, ``report.md`` and matplotlib plots.

``report.json`` holds every figure, the command, the data hashes and the versions;
``report.md`` the tables and plots, from the results of :mod:`.runs`.

Example:
    >>> write_report({"command": "kedrec eval report", "versions": {}}, Path("out"))
    ... # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DASH = "-"

PAPER = {
    "exprxrec_f1": 88.05,
    "mimic_f1": 69.19,
    "rouge1": 35.11,
    "rouge2": 35.17,
    "rougeL": 34.03,
}
"""KEDRec-LM's reported figures (arXiv 2502.20350), in percent."""


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{100 * float(value):.1f}"


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{float(value):.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def write_json(data: dict[str, Any], path: Path) -> Path:
    """Write ``data`` as indented JSON (keys sorted, so reruns diff cleanly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    return path


# --- plots ---------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig: Any, ax: Any, path: Path, **legend: Any) -> Path:
    """Add the legend, save the figure to ``path`` and free it."""
    ax.legend(**legend)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def _bars(selection: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    methods = list(selection["methods"])
    figures = [
        selection["methods"][m].get("subset_metrics") or selection["methods"][m]["metrics"]
        for m in methods
    ]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(methods)), 3.5))
    width = 0.4
    xs = range(len(methods))
    ax.bar([x - width / 2 for x in xs], [f["accuracy"] for f in figures], width, label="accuracy")
    ax.bar([x + width / 2 for x in xs], [f["macro_f1"] for f in figures], width, label="macro-F1")
    ax.set_xticks(list(xs), methods, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_title(f"expRxRec selection ({selection['model_subset']} tasks, gold masked)")
    return _finish(fig, ax, path)


def _histogram(
    series: dict[str, list[float]], path: Path, xlabel: str, **options: Any
) -> Path | None:
    """Overlaid per-method histograms of tasks (20 bins); ``None`` when no method has data."""
    plt = _pyplot()
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(list(series.values()), bins=20, label=list(series), **options)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("tasks")
    return _finish(fig, ax, path)


def _rouge_hist(selection: dict[str, Any], path: Path) -> Path | None:
    series = {
        name: [r["rouge"]["rougeL"] for r in entry["records"] if r.get("rouge")]
        for name, entry in selection["methods"].items()
    }
    xlabel = "ROUGE-L F1 against the DrugMechDB rationale"
    return _histogram(series, path, xlabel, range=(0, 1), stacked=False)


def _latency_hist(selection: dict[str, Any], path: Path) -> Path | None:
    series = {
        name: [r["seconds"] for r in entry["records"]]
        for name, entry in selection["methods"].items()
        if entry["uses_model"]
    }
    xlabel = "seconds per task (model answer; evidence gathered once, not counted)"
    return _histogram(series, path, xlabel)


def _calibration_plot(selection: dict[str, Any], path: Path) -> Path | None:
    plt = _pyplot()
    curves = {
        name: entry["metrics"]["calibration"]
        for name, entry in selection["methods"].items()
        if entry["uses_model"] and "calibration" in entry["metrics"]
    }
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    for name, curve in curves.items():
        xs = [b["confidence"] for b in curve["bins"]]
        ys = [b["accuracy"] for b in curve["bins"]]
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {curve['ece']:.2f})")
    ax.set_xlabel("stated confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return _finish(fig, ax, path, fontsize=8)


def _mimic_bars(result: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    methods = list(result["methods"])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.25
    for i, key in enumerate(("jaccard", "f1", "prauc")):
        ax.bar(
            [x + (i - 1) * width for x in range(len(methods))],
            [result["methods"][m][key] for m in methods],
            width,
            label=key,
        )
    ax.set_xticks(list(range(len(methods))), methods)
    ax.set_ylim(0, 1)
    ax.set_title(f"MIMIC-III ({result['admissions_evaluated']} admissions)")
    return _finish(fig, ax, path)


# --- markdown ------------------------------------------------------------------------------


def _selection_md(selection: dict[str, Any]) -> list[str]:
    lines = [
        "## expRxRec-style selection",
        "",
        f"{selection['tasks']} tasks ({selection['with_rationale']} with a DrugMechDB "
        f"rationale), {selection['negatives']} negatives each; gold drug-disease edges "
        "masked over all DOID/MeSH equivalents. Baselines answer every task; model-based "
        f"methods answer a seeded subset of {selection['model_subset']} tasks, and every "
        "method is shown on that subset (the baselines' accuracy on all tasks in the last "
        "column). "
        f"Distilled adapter: {selection['adapter']}."
        + (
            f" {selection['dropped_forbidden']} disease(s) of the list are also in the train "
            "split and were left out."
            if selection.get("dropped_forbidden")
            else ""
        ),
        "",
    ]
    rows = []
    for name, entry in selection["methods"].items():
        f = entry.get("subset_metrics") or entry["metrics"]
        rows.append(
            [
                name,
                _pct(f["accuracy"]),
                _pct(f["precision"]),
                _pct(f["recall"]),
                _pct(f["f1"]),
                _pct(f["macro_f1"]),
                _pct(f.get("rouge1")),
                _pct(f.get("rouge2")),
                _pct(f.get("rougeL")),
                _pct(f.get("citation_precision")),
                _pct(f.get("hallucinated_id_rate")),
                _pct(f["abstention"]),
                _num(f["mean_s"]),
                DASH if entry["uses_model"] else _pct(entry["metrics"]["accuracy"]),
            ]
        )
    header = [
        "method", "acc", "P", "R", "F1", "macro-F1", "R-1", "R-2", "R-L", "cite P",
        "halluc.", "abstain", "s/task", "acc (all)",
    ]  # fmt: skip
    return lines + _table(header, rows)


def _indications_md(result: dict[str, Any]) -> list[str]:
    rows = [
        [name, _num(f["auroc"], 3), _num(f["auprc"], 3), str(f["pairs"]), str(f["positives"])]
        for name, f in result["methods"].items()
    ]
    return [
        "## PharmacotherapyDB indications (DM/SYM vs NOT)",
        "",
        f"{result['diseases']} diseases; every pair scored with the disease's indication "
        "edges masked; pooled AUROC / AUPRC.",
        "",
        *_table(["method", "AUROC", "AUPRC", "pairs", "positives"], rows),
    ]


def _mimic_md(result: dict[str, Any]) -> list[str]:
    m = result["mapping"]
    rows = [
        [
            name,
            _pct(f["jaccard"]),
            _pct(f["f1"]),
            _pct(f["prauc"]),
            _num(f["avg_drugs"], 1),
            _pct(f["ddi_rate"]),
        ]
        for name, f in result["methods"].items()
    ]
    gt = result["ground_truth"]
    rows.append(["prescribed (ground truth)", DASH, DASH, DASH, _num(gt["avg_drugs"], 1),
                 _pct(gt["ddi_rate"])])  # fmt: skip
    return [
        "## MIMIC-III medications",
        "",
        f"{result['admissions_evaluated']} of {result['admissions_selected']} admissions "
        f"({result['mimic_dir']}); the agent ({result['agent_model']} model) recommends up "
        f"to {result['max_drugs']} drugs from the ICD-9 diagnoses. Prescriptions mapped to "
        f"DrugBank: {_pct(m['row_coverage'])}% of rows, {_pct(m['name_coverage'])}% of "
        f"distinct names. Abstention {_pct(result['abstention'])}%; latency "
        f"{_num(result['latency']['mean_s'])} s mean, {_num(result['latency']['p95_s'])} s "
        "p95 per admission.",
        "",
        *_table(["method", "Jaccard", "F1", "PRAUC", "avg drugs", "DDI rate"], rows),
    ]


def _patients_md(result: dict[str, Any]) -> list[str]:
    lines = [
        "## Free-text patients",
        "",
        f"{result['patients']} patients ({result['file']}): abstention "
        f"{_pct(result['abstention'])}%, a condition linked for {_pct(result['linked'])}%, "
        f"safety warnings for {_pct(result['with_warnings'])}%; "
        f"{_num(result['mean_s'])} s mean per patient.",
    ]
    if "condition_recall" in result:
        lines.append(f"Gold condition recall: {_pct(result['condition_recall'])}%.")
    if "gold_drugs" in result:
        g = result["gold_drugs"]
        lines.append(
            f"Gold drugs ({g['patients']} patients): P {_pct(g['precision'])}, R "
            f"{_pct(g['recall'])}, F1 {_pct(g['f1'])}, hit rate {_pct(g['hit_rate'])}%."
        )
    return [*lines, ""]


def write_report(results: dict[str, Any], out: Path) -> Path:
    """Write ``report.json``, the plots and ``report.md`` into ``out``; returns the .md path.

    Args:
        results: ``command``, ``versions`` and any of ``exprxrec``, ``indications``,
            ``mimic``, ``patients`` (as :mod:`training.evaluation.runs` returns them),
            ``mimic_safedrug`` (:func:`training.evaluation.safedrug.run_protocol`) and
            ``vignettes`` (:func:`training.evaluation.vignettes.run_benchmark`).
        out: the output folder.
    """
    out.mkdir(parents=True, exist_ok=True)
    plots: list[tuple[str, Path | None]] = []
    selection = results.get("exprxrec")
    if selection:
        plots += [
            ("Method comparison", _bars(selection, out / "methods.png")),
            ("ROUGE-L distribution", _rouge_hist(selection, out / "rouge.png")),
            ("Latency", _latency_hist(selection, out / "latency.png")),
            ("Calibration", _calibration_plot(selection, out / "calibration.png")),
        ]
    if results.get("mimic"):
        plots.append(("MIMIC-III methods", _mimic_bars(results["mimic"], out / "mimic.png")))
    safedrug = results.get("mimic_safedrug")
    if safedrug:
        from training.evaluation.safedrug import report as safedrug_report

        plots.append(
            (
                "MIMIC-III, SafeDrug protocol",
                safedrug_report.plot(safedrug, out / f"{safedrug_report.NAME}.png"),
            )
        )
    versions = results.get("versions", {})
    lines = [
        "# KEDRec evaluation report",
        "",
        "Decision support for clinicians, not a prescription: these figures measure how "
        "well the agent's suggestions agree with curated references.",
        "",
        f"Command: `{results.get('command', '')}`",
        "",
        "Wall time per part (s): "
        + (", ".join(f"{k} {v}" for k, v in results.get("seconds", {}).items()) or "-"),
        "",
        *_table(["version", "value"], [[k, f"`{v}`"] for k, v in sorted(versions.items())]),
    ]
    if selection:
        lines += _selection_md(selection)
    if results.get("indications"):
        lines += _indications_md(results["indications"])
    if results.get("mimic"):
        lines += _mimic_md(results["mimic"])
    if safedrug:
        body = safedrug_report.markdown(safedrug).splitlines()
        lines += ["#" + body[0], *body[1:]]  # a section of this report
    if results.get("patients"):
        lines += _patients_md(results["patients"])
    if results.get("vignettes"):
        from training.evaluation.vignettes import markdown as vignettes_md

        lines += vignettes_md(results["vignettes"])
    lines += [
        "## Beside the paper (KEDRec-LM, arXiv 2502.20350)",
        "",
        *_table(
            ["figure", "paper", "here"],
            [
                ["expRxRec F1", _num(PAPER["exprxrec_f1"]), _agent_figure(selection, "f1")],
                ["MIMIC-III F1", _num(PAPER["mimic_f1"]), _mimic_f1(results.get("mimic"))],
                ["ROUGE-1", _num(PAPER["rouge1"]), _agent_figure(selection, "rouge1")],
                ["ROUGE-2", _num(PAPER["rouge2"]), _agent_figure(selection, "rouge2")],
                ["ROUGE-L", _num(PAPER["rougeL"]), _agent_figure(selection, "rougeL")],
            ],
        ),
        "The paper's numbers come from its distilled LLaMA model on its own candidate sets, "
        "splits and rationale references; ours from SmolLM2-135M on CPU with the bundle's DRKG "
        "subset, every indication edge of the evaluated disease masked. They are shown side "
        "by side, not as a like-for-like comparison.",
        "",
    ]
    for title, path in plots:
        if path is not None:
            lines += [f"### {title}", "", f"![{title}]({path.name})", ""]
    write_json(results, out / "report.json")
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def _agent_entry(selection: dict[str, Any] | None) -> dict[str, Any] | None:
    """The figures of the agent's own model on selection (adapter, else base)."""
    if not selection:
        return None
    methods = selection["methods"]
    entry = methods.get("adapter") or methods.get("base")
    if entry is None:
        return None
    found: dict[str, Any] = entry.get("subset_metrics") or entry["metrics"]
    return found


def _agent_figure(selection: dict[str, Any] | None, key: str) -> str:
    entry = _agent_entry(selection)
    return _pct(entry.get(key)) if entry else DASH


def _mimic_f1(result: dict[str, Any] | None) -> str:
    return _pct(result["methods"]["agent"]["f1"]) if result else DASH
