"""The protocol's report: a markdown table, a plot with 95% intervals, and the JSON.

The papers' full-MIMIC-III figures stand beside ours, hatched and with the sentence that
they are not comparable; our figures carry the cohort's label (``demo, 11 patients``).

Example:
    >>> paths = write_outputs(run_protocol(), Path(".kedrec/eval"))  # doctest: +SKIP
    >>> print(markdown(result))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.evaluation.report import write_json

NAME = "mimic_safedrug"
"""File stem of the outputs (``mimic_safedrug.json``, ``.md``, ``.png``)."""

PLOTTED = (("jaccard", "Jaccard"), ("f1", "F1"), ("ddi_rate", "DDI rate"))

_COLUMNS = (
    ("jaccard", "Jaccard"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("f1", "F1"),
    ("prauc", "PRAUC"),
    ("ddi_rate", "DDI rate"),
)


def _cell(entry: dict[str, Any], key: str) -> str:
    value = f"{entry[key]:.3f}"
    low, high = entry.get("ci95", {}).get(key, (None, None))
    return value if low is None else f"{value} [{low:.3f}, {high:.3f}]"


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row per method, then the prescribed sets, then each paper (figures as text)."""
    rows = []
    for name, entry in result["methods"].items():
        rows.append(
            [name, *(_cell(entry, key) for key, _ in _COLUMNS), f"{entry['avg_classes']:.1f}"]
        )
    truth = result["ground_truth"]
    blank = ["-"] * (len(_COLUMNS) - 1)
    rows.append(
        ["prescribed (ground truth)", *blank, f"{truth['ddi_rate']:.3f}",
         f"{truth['avg_classes']:.1f}"]
    )  # fmt: skip
    for paper, figures in result.get("papers", {}).items():
        cells = [f"{figures[k]:.4f}" if k in figures else "-" for k, _ in _COLUMNS]
        rows.append([f"{paper}, full MIMIC-III", *cells, "-"])
    return rows


def summary_lines(result: dict[str, Any]) -> list[str]:
    """A compact console summary: one line per method, then coverage and the caveat."""
    lines = [f"SafeDrug protocol, {result['label']}: {result['split']['visits_evaluated']} "
             f"later visits ({result['split']['name']} split)"]  # fmt: skip
    for name, f in result["methods"].items():
        ci = f["ci95"]
        lines.append(
            f"{name:>26}: Jaccard {f['jaccard']:.3f} [{ci['jaccard'][0]:.3f}, "
            f"{ci['jaccard'][1]:.3f}] F1 {f['f1']:.3f} [{ci['f1'][0]:.3f}, {ci['f1'][1]:.3f}] "
            f"PRAUC {f['prauc']:.3f} DDI {f['ddi_rate']:.3f} classes {f['avg_classes']:.1f}"
        )
    truth, coverage = result["ground_truth"], result["cohort"]["coverage"]
    lines.append(
        f"{'prescribed':>26}: DDI {truth['ddi_rate']:.3f} classes {truth['avg_classes']:.1f} "
        f"(DDI level {result['ddi']['level']}); NDC mapping {coverage['row_coverage']:.1%} "
        "of valid rows"
    )
    if "agent" in result:
        lines.append(agent_note(result["agent"]))
    lines.append(result["papers_note"])
    return lines


def agent_note(agent: dict[str, Any]) -> str:
    """One line on the agent in set mode: calls, time, abstentions, withheld classes."""
    return (
        f"agent in set mode: {agent['calls']} calls ({agent['seconds_per_call']:.1f} s each, "
        f"shared by agent and agent-no-safety), {agent['abstained']} abstained, "
        f"{agent['drugs_per_visit']:.1f} drugs and {agent['vetoed_per_visit']:.1f} vetoed per "
        f"visit, {agent['current_medications_per_visit']:.1f} current medications (previous "
        f"visit), {agent['classes_withheld']} classes withheld for interactions"
    )


def markdown(result: dict[str, Any]) -> str:
    """The report as markdown: what was run, the table, the notes."""
    split, cohort = result["split"], result["cohort"]
    coverage = cohort["coverage"]
    header = ["method", *(title for _, title in _COLUMNS), "classes / visit"]
    agent = result.get("agent")
    agent_lines = [f"{agent_note(agent)}. Rule: {agent['rule']}.", ""] if agent else []
    lines = [
        f"# MIMIC-III, SafeDrug/GAMENet protocol ({result['label']})",
        "",
        f"{cohort['patients']} patients, {cohort['visits']} visits, {cohort['classes']} ATC-3 "
        f"classes after the filters; {split['visits_evaluated']} later visits evaluated "
        f"({split['name']} split, {split['folds']} fold(s), seed {split['seed']}). "
        f"NDC -> ATC-3 mapped {coverage['row_coverage']:.1%} of the valid prescription rows "
        f"({int(coverage['rows_mapped'])} of {int(coverage['rows_valid_ndc'])}); "
        f"{result.get('name_fallback', '')}.",
        "",
        "Figures are means over visits with bootstrap 95% intervals "
        f"({result['bootstrap']['resamples']} resamples of patients); the DDI rate is "
        "pooled over the recommended sets. " + result.get("ddi_note", ""),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in table_rows(result)),
        "",
        *agent_lines,
        result.get("papers_note", ""),
        "",
    ]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> Path:
    """Jaccard, F1 and DDI rate per method with 95% intervals; the papers hatched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(result["methods"])
    papers = result.get("papers", {})
    fig, axes = plt.subplots(1, len(PLOTTED), figsize=(4.2 * len(PLOTTED), 4.2))
    for ax, (key, title) in zip(axes, PLOTTED, strict=True):
        values = [result["methods"][m][key] for m in methods]
        intervals = [result["methods"][m]["ci95"][key] for m in methods]
        errors = [
            [max(v - lo, 0.0) for v, (lo, _) in zip(values, intervals, strict=True)],
            [max(hi - v, 0.0) for v, (_, hi) in zip(values, intervals, strict=True)],
        ]
        ax.bar(range(len(methods)), values, yerr=errors, capsize=3, color="tab:blue")
        quoted = [(p, f[key]) for p, f in papers.items() if key in f]
        start = len(methods)
        ax.bar(
            range(start, start + len(quoted)),
            [v for _, v in quoted],
            color="lightgrey",
            hatch="//",
            edgecolor="grey",
        )
        if key == "ddi_rate":
            ax.axhline(
                result["ground_truth"]["ddi_rate"], color="black", linestyle="--", linewidth=1
            )
            ax.text(0, result["ground_truth"]["ddi_rate"] + 0.02, "prescribed", fontsize=7)
        labels = methods + [f"{p.split(' (')[0]} (paper)" for p, _ in quoted]
        ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(title)
    fig.suptitle(
        f"SafeDrug protocol, {result['label']} (blue, 95% CI) vs papers' full MIMIC-III "
        "(hatched, not comparable)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(
    result: dict[str, Any], out: Path, extra: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write ``<out>/mimic_safedrug.{json,md,png}``.

    Args:
        result: :func:`.evaluate.run_protocol`'s result.
        out: the output folder.
        extra: more top-level JSON keys (the command, versions).
    """
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": write_json({**(extra or {}), NAME: result}, out / f"{NAME}.json"),
        "plot": plot(result, out / f"{NAME}.png"),
    }
    text = markdown(result) + f"\n![Jaccard, F1, DDI rate]({paths['plot'].name})\n"
    paths["markdown"] = out / f"{NAME}.md"
    paths["markdown"].write_text(text)
    return paths
