"""Benchmark of the knowledge-graph store and templates (`make bench-kg`). Prints, exits 0.

1. Bundle: build time and peak RSS (in a child process), reopen time, p50/p95 per template
   over drugs and diseases linked from names in the data (DrugMechDB drug/disease names).
2. The same templates on rdflib's default in-memory Graph holding the same triples, in the
   same run: speed-up ratios (rdflib gets fewer queries per template: it is that slow).
3. Full DRKG scale: a synthetic 5.9M-triple DRKG-format file with DRKG's entity/relation mix
   and hub-heavy (Zipf) degrees, generated into a temp dir (never committed): build time,
   peak RSS, template p50/p95.

Usage: python bench/kg.py [--quick] [--skip-rdflib] [--skip-full-scale]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from kedrec_agent.config import Settings
from kedrec_agent.data.drkg import open_text
from kedrec_agent.errors import KedrecError
from kedrec_agent.kg import queries, vocab
from kedrec_agent.kg.build import BuildInputs, _TripleWriter
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import get_linker

DRKG_TRIPLES = 5_874_261
# Approximate edge counts of DRKG per (source, head type, tail type), from DRKG's README;
# the generator spreads each group evenly over that group's relations in relations.tsv.
DRKG_MIX = {
    ("DRUGBANK", "Compound", "Compound"): 1_379_271,
    ("DRUGBANK", "Compound", "Gene"): 26_723,
    ("DRUGBANK", "Compound", "Disease"): 4_968,
    ("DRUGBANK", "Compound", "Atc"): 15_750,
    ("Hetionet", "Gene", "Biological Process"): 559_504,
    ("Hetionet", "Anatomy", "Gene"): 726_495,
    ("Hetionet", "Gene", "Gene"): 474_526,
    ("Hetionet", "Gene", "Molecular Function"): 97_222,
    ("Hetionet", "Gene", "Cellular Component"): 73_566,
    ("Hetionet", "Compound", "Disease"): 1_145,
    ("Hetionet", "Disease", "Gene"): 27_977,
    ("Hetionet", "Compound", "Compound"): 6_486,
    ("Hetionet", "Compound", "Gene"): 51_429,
    ("Hetionet", "Disease", "Symptom"): 3_357,
    ("Hetionet", "Disease", "Anatomy"): 3_602,
    ("Hetionet", "Disease", "Disease"): 543,
    ("Hetionet", "Pharmacologic Class", "Compound"): 1_029,
    ("Hetionet", "Compound", "Side Effect"): 138_944,
    ("Hetionet", "Gene", "Pathway"): 84_372,
    ("GNBR", "Compound", "Gene"): 80_803,
    ("GNBR", "Gene", "Disease"): 95_399,
    ("GNBR", "Compound", "Disease"): 77_782,
    ("GNBR", "Gene", "Gene"): 66_722,
    ("STRING", "Gene", "Gene"): 1_496_708,
    ("INTACT", "Gene", "Gene"): 254_346,
    ("INTACT", "Compound", "Gene"): 1_805,
    ("DGIDB", "Gene", "Compound"): 26_290,
}


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def child_build(settings: Settings) -> dict[str, Any]:
    """Build in a child process: wall time and peak RSS of that process alone."""
    code = (
        "import json,sys,time;from kedrec_agent.kg.build import build_store;"
        "from kedrec_agent.config import Settings;from pathlib import Path;"
        "a=json.loads(sys.argv[1]);"
        "s=Settings(data_dir=Path(a['data']),home=Path(a['home']),"
        "drkg_path=Path(a['drkg']) if a['drkg'] else None);"
        "t=time.perf_counter();r=build_store(s,force=True,progress=False);"
        "print(json.dumps({'seconds':time.perf_counter()-t,'triples':r.triples}))"
    )
    arg = json.dumps(
        {"data": str(settings.data_dir), "home": str(settings.home),
         "drkg": str(settings.drkg_path) if settings.drkg_path else ""}
    )  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["peak_rss_mb"] = max(rss, before) / 1024
    return result


def sample_entities(
    settings: Settings, n: int
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Drugs, diseases and (drug, disease) pairs linked from DrugMechDB names."""
    linker = get_linker(settings)
    drugs: dict[str, None] = {}
    diseases: dict[str, None] = {}
    pairs: dict[tuple[str, str], None] = {}
    for split in ("train", "dev"):
        path = settings.data_dir / "eval" / "drugmechdb" / f"paths_{split}.jsonl"
        if not path.is_file():
            continue
        with open_text(path) as handle:
            for line in handle:
                if min(len(drugs), len(diseases), len(pairs)) >= n:
                    break
                row = json.loads(line)
                try:
                    drug = linker.link_drug(row["drug"]).id
                    disease = linker.link_disease(row["disease"]).canonical
                except KedrecError:
                    continue
                drugs[drug] = None
                diseases[disease] = None
                pairs[(drug, disease)] = None
    return list(drugs)[:n], list(diseases)[:n], list(pairs)[:n]


def templates(
    drugs: list[str], diseases: list[str], pairs: list[tuple[str, str]]
) -> dict[str, list[Callable[[KnowledgeGraph], object]]]:
    """For each template, one call per sampled argument."""
    rng = random.Random(7)
    triples = [rng.sample(drugs, 3) for _ in range(len(drugs))] if len(drugs) >= 3 else []
    kg = KnowledgeGraph
    return {
        "drugs_for_disease": [partial(kg.drugs_for_disease, disease_id=d) for d in diseases],
        "drug_genes": [partial(kg.drug_genes, drug_id=d) for d in drugs],
        "disease_genes": [partial(kg.disease_genes, disease_id=d) for d in diseases],
        "disease_symptoms": [partial(kg.disease_symptoms, disease_id=d) for d in diseases],
        "interactions_among(3)": [partial(kg.interactions_among, drug_ids=t) for t in triples],
        "drug_facts": [partial(kg.drug_facts, drug_id=d) for d in drugs],
        "mechanism_paths": [
            partial(kg.mechanism_paths, drug_id=p[0], disease_id=p[1]) for p in pairs
        ],
        "drugs_targeting_disease_genes": [
            partial(kg.drugs_targeting_disease_genes, disease_id=d) for d in diseases
        ],
    }


def paths_join_vs_two_hop(kg: KnowledgeGraph, drugs: list[str], diseases: list[str]) -> None:
    """A condition's candidate paths as the agent asks them: 10 drugs of one disease.

    ``mechanism_paths`` (one disease-edge query, cached, joined with each drug's gene edges)
    against the two-hop reference query per drug, in the same process, each disease on a
    fresh view (its cache empty).
    """
    rng = random.Random(11)
    join = two_hop = 0.0
    for disease in diseases:
        batch = rng.sample(drugs, min(10, len(drugs)))
        fresh = kg.with_exclusions(())
        started = time.perf_counter()
        for drug in batch:
            fresh.mechanism_paths(drug, disease)
        join += time.perf_counter() - started
        started = time.perf_counter()
        for drug in batch:
            kg._select(
                queries.MECHANISM_PATHS_REFERENCE,
                drug=vocab.entity_iri(f"Compound::{drug}"),
                concept=kg.concept_iri(disease),
            )
        two_hop += time.perf_counter() - started
    print(f"  mechanism paths, 10 drugs x {len(diseases)} diseases: join {join:.2f} s, "
          f"two-hop query {two_hop:.2f} s: {two_hop / join:.1f}x faster")  # fmt: skip


def time_calls(
    kg: KnowledgeGraph, calls: Sequence[Callable[[KnowledgeGraph], object]]
) -> list[float]:
    seconds = []
    for call in calls:
        started = time.perf_counter()
        call(kg)
        seconds.append(time.perf_counter() - started)
    return seconds


def report_templates(
    kg: KnowledgeGraph, table: dict[str, list[Callable[[KnowledgeGraph], object]]]
) -> dict[str, list[float]]:
    results = {}
    print(f"  {'template':32} {'n':>5} {'p50 ms':>9} {'p95 ms':>9}")
    for name, calls in table.items():
        if not calls:
            continue
        time_calls(kg, calls[:3])  # warm caches
        results[name] = seconds = time_calls(kg, calls)
        print(f"  {name:32} {len(seconds):5d} {pct(seconds, 50):9.2f} {pct(seconds, 95):9.2f}")
    return results


def rdflib_baseline(
    settings: Settings,
    oxigraph: dict[str, list[float]],
    table: dict[str, list[Callable[[KnowledgeGraph], object]]],
    per_template: int,
) -> None:
    from rdflib import Graph

    with tempfile.TemporaryDirectory() as tmp:
        nt = Path(tmp) / "bundle.nt"
        with nt.open("w", encoding="utf-8") as handle:
            handle.writelines(_TripleWriter(BuildInputs.from_settings(settings), False).lines())
        graph = Graph()
        started = time.perf_counter()
        graph.parse(nt, format="nt")
        load = time.perf_counter() - started
    print(f"  rdflib in-memory load: {load:.1f} s for {len(graph):,} triples")
    memory = KnowledgeGraph(graph, KnowledgeGraph.from_settings(settings).equivalences)
    print(f"  {'template':32} {'n':>5} {'rdflib p50':>11} {'oxigraph p50':>13} {'speed-up':>9}")
    ratios = []
    for name, calls in table.items():
        if name not in oxigraph:
            continue
        seconds = time_calls(memory, calls[:per_template])
        ours = statistics.median(oxigraph[name][: len(seconds)])
        ratio = statistics.median(seconds) / ours
        ratios.append(ratio)
        print(
            f"  {name:32} {len(seconds):5d} {pct(seconds, 50):9.1f}ms "
            f"{ours * 1000:11.2f}ms {ratio:8.0f}x"
        )
    print(f"  median speed-up over templates: {statistics.median(ratios):.0f}x (target >= 20x)")


def synthetic_drkg(path: Path, total: int, entities_tsv: Path, relations_tsv: Path) -> None:
    """Write a DRKG-format TSV with DRKG's relation mix and Zipf-distributed endpoints."""
    rng = np.random.default_rng(42)
    by_type: dict[str, list[str]] = {}
    with open_text(entities_tsv) as handle:
        for line in handle:
            name = line.split("\t", 1)[0]
            by_type.setdefault(name.split("::", 1)[0], []).append(name)
    groups: dict[tuple[str, str, str], list[str]] = {}
    with open_text(relations_tsv) as handle:
        for line in handle:
            rel = line.split("\t", 1)[0]
            parts = rel.split("::")
            head, _, tail = parts[-1].partition(":")
            groups.setdefault((parts[0], head, tail), []).append(rel)
    weights = {
        key: DRKG_MIX.get(key, 2_000) for key in groups if key[1] in by_type and key[2] in by_type
    }
    scale = total / sum(weights.values())
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for (source, head, tail), count in weights.items():
            rels = groups[(source, head, tail)]
            n = max(1, round(count * scale / len(rels)))
            for rel in rels:
                heads, tails = by_type[head], by_type[tail]
                h = _zipf_indices(rng, len(heads), n)
                t = _zipf_indices(rng, len(tails), n)
                out.writelines(
                    f"{heads[i]}\t{rel}\t{tails[j]}\n" for i, j in zip(h, t, strict=True)
                )
                written += n
    print(f"  synthetic graph: {written:,} edge lines over {len(weights)} relation groups")


def _zipf_indices(rng: np.random.Generator, size: int, n: int) -> np.ndarray:
    """Hub-heavy endpoints: P(rank k) ~ 1/k^0.8 over a random permutation of entities."""
    ranks = np.arange(1, size + 1, dtype=np.float64)
    p = ranks**-0.8
    order = rng.permutation(size)
    return order[rng.choice(size, size=n, p=p / p.sum())]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--skip-rdflib", action="store_true")
    parser.add_argument("--skip-full-scale", action="store_true")
    parser.add_argument("--samples", type=int, default=250, help="entities per template")
    parser.add_argument("--synthetic-triples", type=int, default=DRKG_TRIPLES)
    parser.add_argument("--rdflib-queries", type=int, default=20)
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.synthetic_triples, args.rdflib_queries = 20, 50_000, 3
    base = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="kedrec-bench-") as tmp:
        settings = replace(base, home=Path(tmp) / "home", sparql_endpoint=None)
        print("== bundle store")
        built = child_build(settings)
        print(f"  build: {built['seconds']:.1f} s, {built['triples']:,} triples, "
              f"peak RSS {built['peak_rss_mb']:.0f} MB (target <= 30 s)")  # fmt: skip
        opens = []
        for _ in range(5):
            started = time.perf_counter()
            kg = KnowledgeGraph.from_settings(settings)
            kg.drug_label("DB00619")
            opens.append(time.perf_counter() - started)
        reopen_ms = statistics.median(opens) * 1000
        print(f"  reopen + first query: median {reopen_ms:.0f} ms (target <= 1 s)")
        drugs, diseases, pairs = sample_entities(base, args.samples)
        print(f"  linked from DrugMechDB names: {len(drugs)} drugs, {len(diseases)} diseases, "
              f"{len(pairs)} pairs")  # fmt: skip
        table = templates(drugs, diseases, pairs)
        ours = report_templates(kg, table)
        paths_join_vs_two_hop(kg, drugs, diseases)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS of this process: {rss_mb:.0f} MB")
        if not args.skip_rdflib:
            print("== rdflib default in-memory Graph, same triples, same templates")
            rdflib_baseline(settings, ours, table, args.rdflib_queries)
        if not args.skip_full_scale:
            print(f"== full DRKG scale (synthetic, {args.synthetic_triples:,} edges)")
            drkg = Path(tmp) / "drkg_synthetic.tsv"
            synthetic_drkg(drkg, args.synthetic_triples, base.data_dir / "kg" / "entities.tsv",
                           base.data_dir / "kg" / "relations.tsv")  # fmt: skip
            full = replace(settings, home=Path(tmp) / "full", drkg_path=drkg)
            built = child_build(full)
            print(
                f"  build: {built['seconds']:.1f} s, {built['triples']:,} triples, peak RSS "
                f"{built['peak_rss_mb']:.0f} MB (targets <= 90 s, <= 2048 MB)"
            )
            report_templates(KnowledgeGraph.from_settings(full), table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
