"""The graph's clinical order of candidates, without the model, on PharmacotherapyDB diseases.

For each usable disease of a split (``eval/pharmacotherapydb/indications_<split>.tsv``),
alone and in pairs (the vignettes' seeded partners plus ``--pairs`` more seeded random
pairs), the candidates :func:`kedrec_agent.kg.evidence.gather_evidence` keeps per condition
(no literature, no current medication) are scored against the disease's curated drugs:
top-1 disease-modifying, top-1 DM or symptomatic, hit@3, and NOT drugs among the first three.
It is the quick check of a change to candidate generation or :func:`candidate_order`
(seconds per condition, not the agent's minutes); ``kedrec eval vignettes`` measures the
whole agent.

Usage: python bench/candidate_order.py [--split train] [--pairs 150] [--out rows.json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

from kedrec_agent.config import get_settings
from kedrec_agent.kg.evidence import gather_evidence
from kedrec_agent.services import default_services
from training.evaluation.vignettes import (
    TWO_CONDITIONS,
    DiseaseGold,
    generate_vignettes,
    linker_check,
    read_indications,
)


def main() -> None:
    """Print the figures per number of conditions; exits 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="train")
    parser.add_argument("--pairs", type=int, default=150, help="extra seeded random pairs")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the per-condition rows (JSON)")
    args = parser.parse_args()
    started = time.perf_counter()
    services = default_services()
    kg, tables = services.kg(), services.drug_tables()
    link = linker_check(services.linker())
    path = get_settings().data_file(f"eval/pharmacotherapydb/indications_{args.split}.tsv")
    generated = generate_vignettes(
        read_indications(path), link, split=args.split, variants=["single", TWO_CONDITIONS]
    )
    groups: list[tuple[DiseaseGold, ...]] = [v.conditions for v in generated.vignettes]
    usable = [v.conditions[0] for v in generated.vignettes if len(v.conditions) == 1]
    rng = random.Random(f"candidate-order:{args.split}")
    for _ in range(args.pairs):
        first, second = rng.sample(usable, 2)
        if not first.ids & second.ids:
            groups.append((first, second))
    rows: list[dict[str, Any]] = []
    for conditions in groups:
        ids = [(link(c.name) or [c.doid])[0] for c in conditions]
        evidence = gather_evidence(
            kg,
            ids,
            [],
            top_k=args.top_k,
            established=tables.established,
            groups=tables.therapeutic_groups,
        )
        for disease, condition in zip(conditions, ids, strict=True):
            kept = [c.drug.local_id for c in evidence.candidates if c.condition == condition]
            rows.append(
                {
                    "conditions": len(conditions),
                    "disease": disease.name,
                    "kept": kept,
                    "top1_dm": bool(kept) and kept[0] in disease.dm,
                    "top1_gold": bool(kept) and kept[0] in disease.gold,
                    "hit3": any(k in disease.gold for k in kept[:3]),
                    "not_top3": sum(k in disease.wrong for k in kept[:3]),
                }
            )
    for n in sorted({r["conditions"] for r in rows}):
        some = [r for r in rows if r["conditions"] == n]
        share = {
            key: sum(r[key] for r in some) / len(some) for key in ("top1_dm", "top1_gold", "hit3")
        }
        print(
            f"{n} condition(s), {len(some)} rows: top-1 DM {share['top1_dm']:.3f}, "
            f"top-1 DM or SYM {share['top1_gold']:.3f}, hit@3 {share['hit3']:.3f}, "
            f"NOT drugs in the first three {sum(r['not_top3'] for r in some)}"
        )
    print(f"{time.perf_counter() - started:.0f} s")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
