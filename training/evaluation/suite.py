"""The harness's shared set-up: settings, stores, models, methods and versions, built once.

:class:`Harness` loads what a run needs lazily (the graph, the literature, the base model,
the distilled adapter if it exists, the drug embedding) and builds the methods of each
task; :mod:`training.evaluation.cli` and :mod:`training.evaluation.report` drive it.

Example:
    >>> harness = Harness(out=Path(".kedrec/eval"))  # doctest: +SKIP
    >>> harness.selection_methods()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kedrec_agent import __version__
from kedrec_agent.config import Settings, get_settings
from kedrec_agent.data.bundle import split_files
from kedrec_agent.errors import ConfigError
from kedrec_agent.reasoning.runtime import ReasoningModel, adapter_path, load_model
from training.evaluation.methods import (
    EmbeddingMethod,
    KGPathMethod,
    Method,
    ModelMethod,
    PopularityMethod,
    RandomMethod,
    popularity_counts,
)
from training.tasks.files import file_hash
from training.tasks.visible import Sources

log = logging.getLogger(__name__)

NOT_AVAILABLE = "not available"


def default_out(settings: Settings | None = None) -> Path:
    """``KEDREC_HOME/eval``: where results go unless ``--out`` says otherwise."""
    return (settings or get_settings()).home / "eval"


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def files_digest(paths: Sequence[Path]) -> dict[str, str]:
    """sha256 (first 16 hex digits) of each input file, by path."""
    return {str(p): file_hash(p)[:16] for p in paths if p.is_file()}


@dataclass
class Harness:
    """What every evaluation of one run shares.

    Args:
        out: the output folder.
        seed: seeds the random baseline, subsets and samples.
        settings: default :func:`~kedrec_agent.config.get_settings`.
        literature: gather literature evidence (off: KG evidence only, everywhere).
        workers: tasks whose evidence is gathered at once.
        progress: show progress bars.
    """

    out: Path
    seed: int = 0
    settings: Settings = field(default_factory=get_settings)
    literature: bool = True
    workers: int = 2
    progress: bool = True

    @cached_property
    def kg(self) -> Any:
        """The knowledge graph (unmasked; each task masks its own view)."""
        from kedrec_agent.kg.knowledge_graph import KnowledgeGraph

        return KnowledgeGraph.from_settings(self.settings)

    @cached_property
    def base_model(self) -> ReasoningModel:
        """The base model, without any adapter (zero-shot)."""
        plain = dataclasses.replace(self.settings, adapter=None, default_adapter=False)
        return load_model(plain)

    @cached_property
    def adapter_model(self) -> ReasoningModel | None:
        """The model with the distilled adapter (``KEDREC_ADAPTER`` or the packaged one).

        ``None`` when there is none, or it cannot be loaded (logged; reported as
        "not available").
        """
        if adapter_path(self.settings) is None:
            return None
        try:
            return load_model(self.settings)
        except ConfigError as exc:
            log.warning("adapter not available: %s", exc)
            return None

    @property
    def default_model(self) -> ReasoningModel:
        """What the agent runs: the adapter where there is one, else the base model."""
        return self.adapter_model or self.base_model

    @property
    def default_name(self) -> str:
        """The name of :attr:`default_model` in the report."""
        return "adapter" if self.adapter_model is not None else "base"

    @cached_property
    def sources(self) -> Sources:
        """Graph, literature and model (the base model's tokenizer shapes the prompt)."""
        literature = None
        if self.literature:
            from kedrec_agent.literature.search import LiteratureSearch

            literature = LiteratureSearch.from_settings(self.settings)
        return Sources(kg=self.kg, literature=literature, model=self.base_model)

    @cached_property
    def data_version(self) -> str:
        """The KG build stamp the agent reads (:func:`kedrec_agent.kg.build.data_version`)."""
        from kedrec_agent.kg.build import data_version

        return data_version(self.settings)

    def popularity(self) -> PopularityMethod:
        """Popularity from the bundle's train split (the files the adapter is trained on)."""
        train = split_files("train", self.settings)
        return PopularityMethod(popularity_counts([train.indications], [train.rationales]))

    def embedding(self) -> EmbeddingMethod:
        """The KG-embedding baseline over the cached drug embedding."""
        from training.tasks.kg_embedding import DrugEmbedding

        return EmbeddingMethod(DrugEmbedding.build(self.settings), self.kg)

    def baseline_methods(self) -> list[Method]:
        """random, popularity, kg-path, kg-embedding."""
        return [RandomMethod(self.seed), self.popularity(), KGPathMethod(), self.embedding()]

    def model_methods(self, ablations: bool = True) -> list[Method]:
        """base, adapter (if any) and the ablations of the default model (no KG, no lit.)."""
        methods: list[Method] = [ModelMethod("base", self.base_model)]
        if self.adapter_model is not None:
            methods.append(ModelMethod("adapter", self.adapter_model))
        if ablations:
            name, model = self.default_name, self.default_model
            methods.append(ModelMethod(f"{name}-no-kg", model, drop="kg"))
            if self.literature:
                methods.append(ModelMethod(f"{name}-no-literature", model, drop="literature"))
        return methods

    def versions(self) -> dict[str, Any]:
        """Package, code, data, model and adapter versions for the report."""
        from kedrec_agent.reasoning.prompts import PROMPT_VERSION

        adapter = adapter_path(self.settings)
        weights = adapter / "adapter_model.safetensors" if adapter is not None else None
        base = self.base_model
        return {
            "kedrec_agent": __version__,
            "git_commit": _git_commit(),
            "prompt": PROMPT_VERSION,
            "data": self.data_version,
            "model": f"{base.path.name} ({str(base.dtype).removeprefix('torch.')}, "
            f"{base.quantization})",
            "adapter": str(adapter) if adapter is not None else NOT_AVAILABLE,
            "adapter_sha256": file_hash(weights)[:16] if weights and weights.is_file() else None,
            "seed": self.seed,
            "literature": self.literature,
        }

    def digest_of(self, paths: Sequence[Path]) -> str:
        """One short hash over several input files (the data hash of a result)."""
        joined = "|".join(f"{p}:{h}" for p, h in sorted(files_digest(paths).items()))
        return hashlib.sha256(joined.encode()).hexdigest()[:16]
