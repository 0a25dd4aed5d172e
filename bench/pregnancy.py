"""Pregnancy cautions: how often a pregnant patient's first option is a drug to avoid.

For each usable PharmacotherapyDB disease of a split (not a male-only one), a note "<age>-year-old
pregnant woman with <disease>." goes through the whole agent graph, twice in the same process:
with the pregnancy rules and preferences (:data:`kedrec_agent.safety.pregnancy.RULES`,
:data:`~kedrec_agent.safety.pregnancy.PREFERRED`) and with none (the agent before they
existed). The reasoning model is left out (the answer is the evidence
order with the ranker's probabilities, the order the model is shown; seconds per patient)
and so is the literature, the same for both runs.

Printed per run: the share of diseases whose first option is a drug a strong rule names (a
boxed warning or contraindication in pregnancy) while the disease has a curated drug (DM or
SYM) no strong rule names; top-1 DM; top-1 DM or SYM; hit@3; and the diseases whose first
option changed, by name.

Usage: python bench/pregnancy.py [--split train] [--limit N] [--out rows.json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

from kedrec_agent.agent.context import Context
from kedrec_agent.agent.graph import build_graph
from kedrec_agent.config import get_settings
from kedrec_agent.errors import ModelUnavailableError
from kedrec_agent.safety import pregnancy
from kedrec_agent.services import Services, default_services
from training.evaluation.vignettes import (
    SINGLE,
    DiseaseGold,
    generate_vignettes,
    linker_check,
    read_indications,
    sex_of,
)


def _strong(drug: str, services: Services) -> bool:
    rules = pregnancy.rules_for(drug, services.drug_tables(), "pregnant")
    return any(rule.strong for rule in rules)


def _run(graph: Any, disease: DiseaseGold, note: str) -> list[str]:
    result = graph.invoke({"patient": note}, context=Context(literature=False))["result"]
    for answer in result["conditions"]:
        if disease.known_as(answer["condition"]["id"]):
            return list(answer["drug_ids"])
    return []


def main() -> None:
    """Print the figures with and without the rules; exits 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="train")
    parser.add_argument("--limit", type=int, help="at most this many diseases")
    parser.add_argument("--out", type=Path, help="write the per-disease rows (JSON)")
    args = parser.parse_args()
    started = time.perf_counter()
    shared = default_services()
    services = Services(
        shared.settings,
        linker=shared.linker(),
        kg=shared.kg(),
        backend=ModelUnavailableError("left out of this benchmark: evidence order"),
    )
    graph = build_graph(services=services)
    path = get_settings().data_file(f"eval/pharmacotherapydb/indications_{args.split}.tsv")
    generated = generate_vignettes(
        read_indications(path), linker_check(services.linker()), split=args.split, variants=[SINGLE]
    )
    diseases = [v for v in generated.vignettes if sex_of(v.conditions[0].name) != "male"]
    rows: list[dict[str, Any]] = []
    rules, preferred = pregnancy.RULES, pregnancy.PREFERRED
    for vignette in diseases[: args.limit]:
        (disease,) = vignette.conditions
        age = random.Random(f"pregnancy:{disease.doid}").randint(20, 40)
        note = f"{age}-year-old pregnant woman with {disease.name}."
        row: dict[str, Any] = {"disease": disease.name, "safe_gold": False}
        row["safe_gold"] = any(not _strong(g, services) for g in disease.gold)
        for arm, on in (("without", False), ("with", True)):
            pregnancy.RULES, pregnancy.PREFERRED = (rules, preferred) if on else ((), {})
            options = _run(graph, disease, note)
            pregnancy.RULES, pregnancy.PREFERRED = rules, preferred
            top = options[0] if options else None
            row[arm] = {
                "options": options,
                "top_avoid": top is not None and _strong(top, services),
                "top1_dm": top in disease.dm,
                "top1_gold": top in disease.gold,
                "hit3": any(d in disease.gold for d in options[:3]),
            }
        rows.append(row)
    name_of = services.linker().name_of
    for arm in ("without", "with"):
        got = [r[arm] for r in rows]
        avoid = sum(g["top_avoid"] for g, r in zip(got, rows, strict=True) if r["safe_gold"])
        print(
            f"{arm} the rules, {len(rows)} diseases: first option to avoid (a safe curated drug "
            f"exists) {avoid}/{sum(r['safe_gold'] for r in rows)}; top-1 DM "
            f"{_share(got, 'top1_dm')}; top-1 DM or SYM {_share(got, 'top1_gold')}; hit@3 "
            f"{_share(got, 'hit3')}"
        )
    for r in rows:
        before, after = r["without"]["options"][:1], r["with"]["options"][:1]
        if before != after:
            print(f"  {r['disease']}: {_names(before, name_of)} -> {_names(after, name_of)}")
    print(f"{time.perf_counter() - started:.0f} s")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


def _share(rows: list[dict[str, Any]], key: str) -> str:
    return f"{sum(r[key] for r in rows) / len(rows):.3f}" if rows else "-"


def _names(ids: list[str], name_of: Any) -> str:
    return ", ".join(name_of(i) or i for i in ids) or "none"


if __name__ == "__main__":
    main()
