"""Build expRxRec-style tasks: one true indication of a disease among hard negatives.

:func:`build_tasks` takes a disease list and the indication / rationale files of a split as
arguments, so that the evaluation harness builds dev and held-out tasks with the same code.

**Positives** of a disease (all its DOID/MeSH equivalents, via the linker's canonical key),
in order of preference: DrugMechDB pairs (with their ``rationale_text`` and the path as
``mechanism`` steps), PharmacotherapyDB ``DM`` then ``SYM`` pairs, then the knowledge
graph's *treats* edges (DrugBank ``treats``, then Hetionet ``CtD``, then any other source,
e.g. GNBR in the full DRKG), in the order of :meth:`KnowledgeGraph.drugs_for_disease`
(most supporting edges first). Up to ``per_disease`` nameable positives per disease, one
task each; ``source`` says where the first-preferred one came from.

**Indications** (never a negative, always masked): every drug the disease is known to be
treated by, from any source: DrugMechDB, PharmacotherapyDB ``DM``/``SYM``, and every
indication edge of the KG (:meth:`KnowledgeGraph.drugs_for_disease`: the *treats* and
*palliates* categories of :mod:`kedrec_agent.kg.relations`, e.g. Hetionet ``CpD``).

**Negatives**, ``negatives`` per task, all nameable by the linker and none an indication
or the name-equivalent of one (same name, or one name's words contained in the other's:
"Warfarin" / "(R)-warfarin", "Insulin" / "Insulin lispro"):

1. ``curated``: PharmacotherapyDB ``NOT`` drugs of the disease (a NOT pair that another
   source lists as an indication is dropped and counted as a conflict);
2. ``hard``: the drugs nearest the positive in the KG embedding
   (:class:`training.tasks.kg_embedding.DrugEmbedding`, built with no drug-disease edge);
3. ``random``: drugs that have an embedding, when still short.

Candidates are shuffled by a :class:`random.Random` seeded with the seed and the task id, so
adding diseases to a list never changes the other diseases' tasks; the same inputs and
seed give the same tasks.

**Exclusions**: every (drug, disease id) pair of every known indication of the disease,
for each of its DOID/MeSH equivalent ids: what the collection and the evaluation mask
through :meth:`KnowledgeGraph.with_exclusions`, so that no indication edge of the disease
(the gold included) is visible.

**Leakage**: :func:`build_tasks` refuses a disease list that shares a disease (by canonical
key, DOID/MeSH equivalents included) with a ``forbidden`` list (the other splits).

Measured on the reference machine (2 CPU cores), default settings, the embedding cached,
``drop_forbidden=True`` (see :func:`build_tasks`: the bundle's train and dev lists share one
concept): train split (896 lines, 891 distinct concepts) -> 1,876 tasks from 888 diseases in
~2.5-3.5 s; dev split (244 lines) -> 510 tasks from 242 diseases in ~0.7 s.

Example:
    >>> tasks = build_tasks(Path("diseases_train.txt"), Path("indications_train.tsv"),
    ...                     Path("paths_train.jsonl"), forbidden=[Path("diseases_dev.txt")])
    ... # doctest: +SKIP
    >>> print(summarize_tasks(tasks))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.kg.relations import TREATS
from kedrec_agent.linking import DiseaseConcept, Linker, get_linker
from training.tasks.inputs import (
    DRUG_ID,
    Rationale,
    disease_concept,
    read_diseases,
    read_indications,
    read_rationales,
)
from training.tasks.kg_embedding import DrugEmbedding
from training.tasks.schema import Task, TaskCandidate
from training.tasks.summary import BuildStats, TaskList

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9]+")
_KG_SOURCES = ("drugbank", "hetionet")  # preferred KG sources, in order; others follow
_MAX_SHOWN = 5

Kind = Literal["positive", "curated", "hard", "random"]


def _split_name(diseases: Path) -> str:
    stem = diseases.name.split(".")[0]
    return stem.removeprefix("diseases_") or stem


@dataclass
class _Positive:
    drug: str
    source: str
    rationale: str | None = None
    mechanism: tuple[str, ...] = ()


@dataclass
class _Disease:
    """Everything known about one disease of the list."""

    concept: DiseaseConcept
    rationales: dict[str, Rationale] = field(default_factory=dict)  # first path per drug
    categories: dict[str, set[str]] = field(default_factory=dict)  # drug -> DM/SYM/NOT
    names: list[str] = field(default_factory=list)  # disease names seen in the files


def _source_rank(source: str) -> int:
    return _KG_SOURCES.index(source) if source in _KG_SOURCES else len(_KG_SOURCES)


def _words(name: str) -> frozenset[str]:
    return frozenset(_WORD.findall(name.casefold()))


def _name_equivalent(a: frozenset[str], b: frozenset[str]) -> bool:
    """Same drug by name: one name's words all in the other's (salt, isomer, brand words)."""
    if not a or not b:
        return False
    return a <= b or b <= a


class _Builder:
    """Builds the tasks of one disease list (see the module docstring)."""

    def __init__(
        self,
        linker: Linker,
        kg: KnowledgeGraph,
        embedding: DrugEmbedding,
        *,
        negatives: int,
        per_disease: int,
        seed: int,
        split: str,
    ) -> None:
        self.linker = linker
        self.kg = kg
        self.embedding = embedding
        self.negatives = negatives
        self.per_disease = per_disease
        self.seed = seed
        self.split = split
        self.stats = BuildStats()
        self._names: dict[str, str | None] = {}
        self._words: dict[str, frozenset[str]] = {}

    def name(self, drug: str) -> str | None:
        if drug not in self._names:
            self._names[drug] = self.linker.name_of(drug)
        return self._names[drug]

    def words(self, drug: str) -> frozenset[str]:
        if drug not in self._words:
            self._words[drug] = _words(self.name(drug) or "")
        return self._words[drug]

    def disease_name(self, facts: _Disease) -> str | None:
        """The disease's name, or None when no source names it (an id alone teaches nothing)."""
        concept = facts.concept
        for disease_id in (concept.canonical, *sorted(concept.equivalents)):
            name = self.linker.name_of(disease_id)
            if name:
                return name
        return next((n for n in facts.names if n), None)

    def tasks_for(self, facts: _Disease) -> list[Task]:
        concept = facts.concept
        rows = self.kg.drugs_for_disease(concept.canonical)
        kg_treats: dict[str, list[str]] = {}
        indications: set[str] = set(facts.rationales)
        disease_ids = set(concept.equivalents)
        for row in rows:
            drug = row.drug.local_id
            if not DRUG_ID.match(drug):
                continue
            indications.add(drug)
            disease_ids.add(row.disease.local_id)
            if row.category == TREATS:
                kg_treats.setdefault(drug, []).append(row.relation.split("::", 1)[0].lower())
        curated: list[str] = []
        for drug, categories in facts.categories.items():
            if categories & {"DM", "SYM"}:
                indications.add(drug)
            else:
                curated.append(drug)
        conflicts = [d for d in curated if d in indications]
        self.stats.curated_conflicts += len(conflicts)
        curated = [d for d in curated if d not in indications]

        positives = self._positives(facts, kg_treats)
        if not positives:
            self.stats.skipped_no_positive += 1
            return []
        disease_name = self.disease_name(facts)
        if disease_name is None:  # e.g. DRKG's truncated "MESH:C"
            self.stats.skipped_unnamed += 1
            return []
        exclusions = sorted((d, x) for d in indications for x in disease_ids)
        blocked_words = [w for w in map(self.words, sorted(indications)) if w]
        tasks = []
        for positive in positives:
            task_id = f"{concept.canonical}|{positive.drug}|{self.seed}"
            rng = random.Random(f"{self.seed}|{task_id}")
            chosen = self._negatives(positive.drug, indications, blocked_words, curated, rng)
            if not chosen:
                self.stats.dropped_no_negative += 1
                continue
            if len(chosen) < self.negatives:
                self.stats.short_tasks += 1
            candidates = [
                TaskCandidate(id=drug, name=self.name(drug) or "", negative=kind)
                for drug, kind in [(positive.drug, "positive"), *chosen]
            ]
            rng.shuffle(candidates)
            tasks.append(
                Task(
                    task_id=task_id,
                    split=self.split,
                    disease=concept.canonical,
                    disease_name=disease_name,
                    positive=positive.drug,
                    source=positive.source,
                    candidates=candidates,
                    rationale=positive.rationale,
                    mechanism=list(positive.mechanism),
                    exclusions=exclusions,
                )
            )
        return tasks

    def _positives(self, facts: _Disease, kg_treats: dict[str, list[str]]) -> list[_Positive]:
        ranked: list[_Positive] = [
            _Positive(drug, "drugmechdb", r.text, r.mechanism)
            for drug, r in facts.rationales.items()
        ]
        for category in ("DM", "SYM"):
            ranked += [
                _Positive(drug, f"pharmacotherapydb:{category}")
                for drug, categories in facts.categories.items()
                if category in categories
            ]

        best = {drug: min(sources, key=_source_rank) for drug, sources in kg_treats.items()}
        # sorted() is stable: within a source, the KG's order (most supported first) is kept.
        for drug in sorted(best, key=lambda d: _source_rank(best[d])):
            ranked.append(_Positive(drug, best[drug]))
        chosen: dict[str, _Positive] = {}
        for positive in ranked:
            if positive.drug not in chosen and self.name(positive.drug):
                chosen[positive.drug] = positive
                if len(chosen) == self.per_disease:
                    break
        return list(chosen.values())

    def _negatives(
        self,
        positive: str,
        indications: set[str],
        blocked_words: list[frozenset[str]],
        curated: list[str],
        rng: random.Random,
    ) -> list[tuple[str, Kind]]:
        chosen: list[tuple[str, Kind]] = []
        taken = {positive}
        taken_words = [self.words(positive)]

        def usable(drug: str) -> bool:
            if drug in taken or drug in indications or not self.name(drug):
                return False
            words = self.words(drug)
            return not any(_name_equivalent(words, w) for w in (*blocked_words, *taken_words))

        def take(drug: str, kind: Kind) -> None:
            chosen.append((drug, kind))
            taken.add(drug)
            taken_words.append(self.words(drug))

        for drug in rng.sample(curated, len(curated)):
            if len(chosen) == self.negatives:
                return chosen
            if usable(drug):
                take(drug, "curated")
        if positive in self.embedding:
            k, done = 8 * self.negatives, 0
            while len(chosen) < self.negatives:
                # `indications` is fixed, so a larger k returns the same list, extended.
                near = self.embedding.nearest(positive, k, exclude=indications)
                for drug, _score in near[done:]:
                    if len(chosen) == self.negatives:
                        break
                    if usable(drug):
                        take(drug, "hard")
                if len(near) < k:
                    break
                done, k = len(near), k * 4
        pool = self.embedding.ids
        tries = 0
        while len(chosen) < self.negatives and pool and tries < 50 * self.negatives:
            tries += 1
            drug = pool[rng.randrange(len(pool))]
            if usable(drug):
                take(drug, "random")
        if len(chosen) < self.negatives:  # very small vocabularies: scan in a seeded order
            for drug in rng.sample(pool, len(pool)):
                if len(chosen) == self.negatives:
                    break
                if usable(drug):
                    take(drug, "random")
        return chosen


def _describe(concept: DiseaseConcept) -> str:
    """``MESH:D013967 (= DOID:7188, MESH:D050031)``: a key and its equivalent ids."""
    others = sorted(concept.equivalents - {concept.canonical})
    return concept.canonical + (f" (= {', '.join(others)})" if others else "")


def _forbidden_hits(
    concepts: Sequence[DiseaseConcept], forbidden: Sequence[Path], linker: Linker
) -> list[str]:
    """Canonical keys of ``concepts`` that share a concept or an id with a forbidden list."""
    keys: set[str] = set()
    ids: set[str] = set()
    for path in forbidden:
        for concept in read_diseases(path, linker):
            keys.add(concept.canonical)
            ids |= concept.equivalents
    return [
        c.canonical for c in concepts if c.canonical in keys or not c.equivalents.isdisjoint(ids)
    ]


def build_tasks(
    diseases: Path,
    indications: Path,
    rationales: Path,
    *,
    negatives: int = 4,
    per_disease: int = 3,
    seed: int = 0,
    split: str | None = None,
    forbidden: Sequence[Path] = (),
    settings: Settings | None = None,
    drop_forbidden: bool = False,
) -> list[Task]:
    """Build the tasks of a disease list (see the module docstring for the rules).

    Args:
        diseases: disease list, one DOID/MeSH id a line (e.g. ``splits/diseases_train.txt``).
        indications: PharmacotherapyDB TSV (``eval/pharmacotherapydb/indications_*.tsv``).
        rationales: DrugMechDB paths JSONL (``eval/drugmechdb/paths_*.jsonl``).
        negatives: negatives per task.
        per_disease: positives (tasks) per disease at most.
        seed: seeds the choice and order of candidates (combined with each task id).
        split: recorded in each task; default from the file name (``diseases_dev.txt`` ->
            ``dev``).
        forbidden: disease lists that ``diseases`` must not share a disease with.
        settings: where the bundle, the KG store and the embedding cache are; default
            :func:`~kedrec_agent.config.get_settings`.
        drop_forbidden: leave out (and count in ``stats.dropped_forbidden``) the diseases
            that are in a forbidden list instead of refusing the whole list. The bundle's
            own splits need it: ``MESH:D050031`` (train, Hashimoto disease) and
            ``MESH:D013967`` (dev, autoimmune thyroiditis) are one concept through
            ``DOID:7188``, so each split must drop it when built against the other.

    Returns:
        The tasks (a :class:`TaskList`: its ``stats`` hold the skipped counts), disease by
        disease in list order.

    Raises:
        InvalidInputError: a disease of the list is in a forbidden list (up to 5 named;
            unless ``drop_forbidden``), a
            bad argument, or a malformed input line (file and line named).
        DataMissingError: an input file is missing.
        StoreNotBuiltError: the KG store has not been built (``kedrec setup``).
    """
    if negatives < 1:
        raise InvalidInputError(f"negatives must be at least 1, got {negatives}")
    if per_disease < 1:
        raise InvalidInputError(f"per_disease must be at least 1, got {per_disease}")
    settings = settings or get_settings()
    linker = get_linker(settings)
    concepts = read_diseases(diseases, linker)
    leaked = _forbidden_hits(concepts, forbidden, linker)
    listed = len(concepts)
    if leaked and drop_forbidden:
        dropped = set(leaked)
        concepts = [c for c in concepts if c.canonical not in dropped]
        log.warning("left out %d disease(s) that are in a forbidden list", len(leaked))
    elif leaked:
        named = {c.canonical: c for c in concepts}
        shown = "; ".join(_describe(named[key]) for key in leaked[:_MAX_SHOWN])
        shown += " …" if len(leaked) > _MAX_SHOWN else ""
        raise InvalidInputError(
            f"{len(leaked)} disease(s) of {diseases} are also in a forbidden disease list "
            f"({', '.join(map(str, forbidden))}): {shown}. Tasks must not be built from "
            "diseases of another split."
        )
    facts = {c.canonical: _Disease(c) for c in concepts}
    for row in read_rationales(rationales):
        disease = facts.get(disease_concept(linker, row.disease).canonical)
        if disease is not None:
            disease.rationales.setdefault(row.drug, row)
            disease.names.append(row.disease_name)
    for ind in read_indications(indications):
        disease = facts.get(disease_concept(linker, ind.disease).canonical)
        if disease is not None:
            disease.categories.setdefault(ind.drug, set()).add(ind.category)
            disease.names.append(ind.disease_name)

    builder = _Builder(
        linker,
        KnowledgeGraph.from_settings(settings),
        DrugEmbedding.build(settings),
        negatives=negatives,
        per_disease=per_disease,
        seed=seed,
        split=split or _split_name(diseases),
    )
    builder.stats.diseases_listed = listed
    builder.stats.dropped_forbidden = len(leaked)
    tasks = TaskList(stats=builder.stats)
    for disease in facts.values():
        tasks += builder.tasks_for(disease)
    stats = builder.stats
    log.info(
        "tasks: %d from %d of %d diseases (%d without a nameable positive); %d dropped "
        "(no negative), %d short; %d curated NOT pairs conflict with an indication",
        len(tasks), len({t.disease for t in tasks}), stats.diseases_listed,
        stats.skipped_no_positive, stats.dropped_no_negative, stats.short_tasks,
        stats.curated_conflicts,
    )  # fmt: skip
    return tasks
