"""`kedrec eval vignettes` end to end on the real bundle: three dev vignettes through the agent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kedrec_agent.config import Settings
from kedrec_agent.data.bundle import split_files
from kedrec_agent.linking import get_linker
from training.evaluation.cli import app
from training.evaluation.vignettes import (
    VARIANTS,
    generate_vignettes,
    linker_check,
    read_indications,
    summarise,
)

# Minutes on a quiet 2-core CPU; the limit leaves room for a CPU shared with other jobs.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

LIMIT = 3  # one dev disease in every variant


@pytest.fixture(scope="module")
def saved(bundle_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vignettes")
    args = ["vignettes", "--split", "dev", "--limit", str(LIMIT), "--no-literature"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _rows(out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    data = json.loads((out / "vignettes.json").read_text())
    assert data["command"].startswith("kedrec") and data["versions"]["data"]
    return data["vignettes"], data["vignettes"]["rows"]


def test_report_structure(saved: Path, bundle_settings: Settings) -> None:
    result, rows = _rows(saved)
    assert result["split"] == "dev" and result["limit"] == LIMIT
    assert result["medication"]["drug_id"] == "DB00682"  # warfarin, linked by name
    assert (
        result["diseases"]["used"]
        + result["diseases"]["skipped_unlinkable"]
        + result["diseases"]["skipped_without_gold"]
        == result["diseases"]["in_file"]
    )
    assert len(rows) == LIMIT and [r["variant"] for r in rows] == list(VARIANTS) * (
        LIMIT // len(VARIANTS)
    )
    assert set(result["figures"]) == {*VARIANTS, "overall"}
    for row in rows:
        assert row["conditions"] and all(c["dm"] or c["sym"] for c in row["conditions"])
        assert row["seconds"] > 0
        assert row["medications"] == (["DB00682"] if row["variant"] == "interacting" else [])
        assert len(row["conditions"]) == (2 if row["variant"] == "two-conditions" else 1)
        assert row["linked"] is not None
    overall = result["figures"]["overall"]
    assert overall["vignettes"] == LIMIT and overall["p95_s"] >= overall["p50_s"] > 0
    assert overall["linked"] > 0.5  # the notes name diseases the linker pre-checked
    markdown = (saved / "vignettes.md").read_text()
    assert f"| overall | {LIMIT} |" in markdown and "hit@3" in markdown
    # no note text in the outputs: the notes are rebuilt from the split and the seed
    linker = get_linker(bundle_settings)
    diseases = read_indications(split_files("dev", bundle_settings).indications)
    notes = generate_vignettes(diseases, linker_check(linker), split="dev").vignettes[:LIMIT]
    assert [v.id for v in notes] == [r["id"] for r in rows]
    written = (saved / "vignettes.json").read_text() + markdown
    assert not [v.text for v in notes if v.text in written]


def test_metrics_follow_from_the_rows(saved: Path) -> None:
    result, rows = _rows(saved)
    assert summarise(rows, result["seed"]) == result["figures"]
    recommended = 0
    not_drugs = 0
    for row in rows:
        drugs = [r["drug_id"] for r in sorted(row["recommended"], key=lambda r: r["rank"])]
        meds = set(row["medications"])
        gold = {d for c in row["conditions"] for d in c["dm"] + c["sym"]} - meds
        dm = {d for c in row["conditions"] for d in c["dm"]}
        wrong = {d for c in row["conditions"] for d in c["not"]} - gold
        # each condition's list: the drugs given for it where the answer says, else all
        lists = {
            c["doid"]: (row["per_condition"][c["doid"]] if row["attributed"] else drugs)
            for c in row["conditions"]
        }
        hits = [bool(set(lists[c["doid"]][:3]) & (set(c["dm"] + c["sym"]) - meds))
                for c in row["conditions"]]  # fmt: skip
        assert row["hit3"] == sum(hits) / len(hits)
        if row["attributed"]:
            assert set(drugs) >= {d for ds in lists.values() for d in ds}

        judged = {
            d: [c for c in row["conditions"] if d in lists[c["doid"]]] or row["conditions"]
            for d in drugs
        }
        assert row["top1_dm"] == bool(drugs and any(drugs[0] in c["dm"] for c in judged[drugs[0]]))
        assert row["not_count"] == sum(
            any(d in c["not"] for c in judged[d])
            and not any(d in c["dm"] + c["sym"] for c in judged[d])
            for d in drugs
        )
        if not row["attributed"]:
            assert row["not_count"] == sum(d in wrong for d in drugs)
            assert row["top1_dm"] == bool(drugs and drugs[0] in dm)
        assert row["hit3_any"] == bool(set(drugs[:3]) & gold)
        assert row["abstained"] == (not drugs) or row["abstained"]
        recommended += len(drugs)
        not_drugs += row["not_count"]
    overall = result["figures"]["overall"]
    assert overall["recommended"] == recommended
    assert overall["not_rate"] == (not_drugs / recommended if recommended else 0.0)
    assert overall["hit3"] == pytest.approx(sum(r["hit3"] for r in rows) / len(rows))
    lo, hi = overall["hit3_ci"]
    assert lo <= overall["hit3"] <= hi
