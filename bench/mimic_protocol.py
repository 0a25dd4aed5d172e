"""Benchmark of the SafeDrug/GAMENet MIMIC-III protocol at full size. Prints, exits 0.

Generates a synthetic MIMIC-III layout in a temp dir (never committed) with the full
database's proportions: 46,520 patients by default, about 16% of them with two or more
admissions (MIMIC-III: 7,537 of 46,520), ~11 diagnoses and ~4.5 procedures per admission
over Zipf-weighted code vocabularies of MIMIC-III's size, ~80 prescription rows per
admission (MIMIC-III: 4.16M rows) whose NDCs are drawn from the bundle's
``mimic_protocol/ndc_to_atc3.tsv`` (plus ~24% unmapped NDCs and some ``0``), written
as ``.csv.gz`` like PhysioNet's files. Then times, in this process: the cohort build
(SafeDrug's filters; ~6,000+ patients survive), the ATC-3 DDI relation, and each
baseline on SafeDrug's split (training, answering the test patients' later visits,
bootstrap). Prints wall times and peak RSS (targets: <= 15 min, <= 4 GB). The figures
of merit are meaningless on random data: this measures cost, not quality.

Usage: python bench/mimic_protocol.py [--patients 46520] [--plain] [--keep DIR]
       python bench/mimic_protocol.py --patients 8000   # a quicker, smaller run
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from itertools import accumulate
from pathlib import Path
from typing import IO, Any

from training.evaluation.safedrug.cohort import build_cohort, read_ndc_table
from training.evaluation.safedrug.ddi import load_class_ddi
from training.evaluation.safedrug.evaluate import ProtocolConfig, evaluate

MIMIC_PATIENTS = 46_520
DIAGNOSIS_CODES = 6_984  # distinct ICD-9 diagnosis codes in MIMIC-III
PROCEDURE_CODES = 2_009
MULTI_ADMISSION_SHARE = 0.162
# Shares of admissions with procedures / prescriptions (MIMIC-III: 89% / 85% overall). The
# admissions without them are mostly single stays (newborns), so patients with several stays
# get the higher share: 6,000+ of them pass the filters, as SafeDrug's 6,350 do.
WITH_PROCEDURES = (0.86, 0.95)  # (single-admission patients, others)
WITH_PRESCRIPTIONS = (0.82, 0.95)
PRESCRIPTIONS_PER_ADMISSION = 82
UNMAPPED_SHARE = 0.24
ZERO_NDC_SHARE = 0.01


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux: ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def zipf_weights(n: int, exponent: float = 1.1) -> list[float]:
    """Cumulative Zipf weights over ``n`` ranks, for ``random.choices(cum_weights=...)``."""
    return list(accumulate(1.0 / (rank**exponent) for rank in range(1, n + 1)))


def _open(path: Path, gz: bool) -> IO[str]:
    if gz:
        return gzip.open(path.with_suffix(".csv.gz"), "wt", newline="", compresslevel=1)
    return path.open("w", newline="")


def _admission_counts(rng: random.Random, patients: int) -> Iterator[int]:
    for _ in range(patients):
        if rng.random() >= MULTI_ADMISSION_SHARE:
            yield 1
        else:
            count = 2
            while rng.random() < 0.38 and count < 40:
                count += 1
            yield count


def generate(folder: Path, patients: int, seed: int, gz: bool = True) -> dict[str, int]:
    """Write ADMISSIONS, DIAGNOSES_ICD, PROCEDURES_ICD and PRESCRIPTIONS; row counts."""
    rng = random.Random(seed)
    diagnoses = [
        f"{rng.randint(1, 99999):05d}"[: rng.choice((3, 4, 5))] for _ in range(DIAGNOSIS_CODES)
    ]
    procedures = [
        f"{rng.randint(1, 9999):04d}"[: rng.choice((3, 4))] for _ in range(PROCEDURE_CODES)
    ]
    ndcs = sorted(read_ndc_table())
    diagnosis_weights = zipf_weights(len(diagnoses))
    procedure_weights = zipf_weights(len(procedures))
    ndc_weights = zipf_weights(len(ndcs), 0.9)
    counts = {
        "patients": patients,
        "admissions": 0,
        "diagnoses": 0,
        "procedures": 0,
        "prescriptions": 0,
    }
    files = {
        name: _open(folder / f"{name}.csv", gz)
        for name in ("ADMISSIONS", "DIAGNOSES_ICD", "PROCEDURES_ICD", "PRESCRIPTIONS")
    }
    writers = {name: csv.writer(handle) for name, handle in files.items()}
    writers["ADMISSIONS"].writerow(
        ["ROW_ID", "SUBJECT_ID", "HADM_ID", "ADMITTIME", "DISCHTIME", "ADMISSION_TYPE", "DIAGNOSIS"]
    )
    writers["DIAGNOSES_ICD"].writerow(["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"])
    writers["PROCEDURES_ICD"].writerow(["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"])
    writers["PRESCRIPTIONS"].writerow(
        [
            "ROW_ID",
            "SUBJECT_ID",
            "HADM_ID",
            "ICUSTAY_ID",
            "STARTDATE",
            "ENDDATE",
            "DRUG_TYPE",
            "DRUG",
            "NDC",
            "ROUTE",
        ]
    )
    hadm = 100_000
    try:
        for subject, admissions in enumerate(_admission_counts(rng, patients), start=1):
            year = rng.randint(2100, 2200)
            for visit in range(admissions):
                hadm += 1
                counts["admissions"] += 1
                day = f"{year + visit}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                writers["ADMISSIONS"].writerow(
                    [
                        hadm,
                        subject,
                        hadm,
                        f"{day} 10:00:00",
                        f"{day} 18:00:00",
                        "EMERGENCY",
                        "SEPSIS",
                    ]
                )
                codes = set(
                    rng.choices(
                        diagnoses, cum_weights=diagnosis_weights, k=max(1, int(rng.gauss(11, 5)))
                    )
                )
                for seq, code in enumerate(sorted(codes), start=1):
                    writers["DIAGNOSES_ICD"].writerow([0, subject, hadm, seq, code])
                counts["diagnoses"] += len(codes)
                if rng.random() < WITH_PROCEDURES[admissions > 1]:
                    picked = set(
                        rng.choices(
                            procedures,
                            cum_weights=procedure_weights,
                            k=max(1, int(rng.gauss(4.5, 2.5))),
                        )
                    )
                    for seq, code in enumerate(sorted(picked), start=1):
                        writers["PROCEDURES_ICD"].writerow([0, subject, hadm, seq, code])
                    counts["procedures"] += len(picked)
                if rng.random() < WITH_PRESCRIPTIONS[admissions > 1]:
                    rows = max(1, int(rng.expovariate(1 / PRESCRIPTIONS_PER_ADMISSION)))
                    drawn = rng.choices(ndcs, cum_weights=ndc_weights, k=rows)
                    for ndc in drawn:
                        roll = rng.random()
                        if roll < ZERO_NDC_SHARE:
                            ndc = "0"
                        elif roll < ZERO_NDC_SHARE + UNMAPPED_SHARE:
                            ndc = f"{rng.randint(0, 99_999_999_999):011d}"
                        writers["PRESCRIPTIONS"].writerow(
                            [
                                0,
                                subject,
                                hadm,
                                "",
                                f"{day} 00:00:00",
                                f"{day} 00:00:00",
                                "MAIN",
                                "Drug",
                                ndc,
                                "PO",
                            ]
                        )
                    counts["prescriptions"] += rows
    finally:
        for handle in files.values():
            handle.close()
    return counts


def timed(label: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``func``, print its wall time and the peak RSS so far, return its result."""
    started = time.perf_counter()
    result = func(*args, **kwargs)
    print(
        f"{label:<28} {time.perf_counter() - started:8.1f} s   peak RSS {peak_rss_mb():7.0f} MB",
        flush=True,
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--patients",
        type=int,
        default=MIMIC_PATIENTS,
        help="patients to generate (default: MIMIC-III's 46,520)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plain", action="store_true", help="write .csv instead of .csv.gz")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="kedrec-mimic-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        counts = timed(
            "generate tables", generate, folder, args.patients, args.seed, not args.plain
        )
        print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        cohort = timed("build cohort", build_cohort, folder)
        summary = cohort.summary()
        print(
            f"  cohort: {summary['patients']:,} patients, {summary['visits']:,} visits, "
            f"{summary['classes']} classes, NDC rows mapped "
            f"{summary['coverage']['row_coverage']:.1%}"
        )
        ddi = timed("ATC-3 DDI relation (major)", load_class_ddi, "major")
        config = ProtocolConfig(split="safedrug", seed=args.seed, resamples=args.resamples)
        result = timed("baselines (all)", evaluate, cohort, ddi, config=config)
        split = result["split"]
        print(
            f"  split: {split['patients_train']:,} train patients, "
            f"{split['patients_evaluated']:,} test patients, "
            f"{split['visits_evaluated']:,} later visits evaluated"
        )
        for name, figures in result["methods"].items():
            print(
                f"  {name:<26} {figures['seconds']:8.1f} s   Jaccard {figures['jaccard']:.3f} "
                f"F1 {figures['f1']:.3f} (random data)"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    total = time.perf_counter() - started
    print(
        f"total {total:.0f} s ({total / 60:.1f} min; target <= 15 min), "
        f"peak RSS {peak_rss_mb():.0f} MB (target <= 4096 MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
