"""Where the reasoning model runs: in this process, or on an OpenAI-compatible server.

Prompts, parsing, the fallback and the rationale gate are one implementation
(:class:`~kedrec_agent.reasoning.reasoner.Reasoner`); a backend only turns chat messages
and the answer's JSON schema (:func:`~kedrec_agent.reasoning.constrained.answer_schema`)
into the answer's text. Chosen by ``KEDREC_REASONER_BACKEND``:

* ``transformers`` (default): the local model
  (:class:`~kedrec_agent.reasoning.local.LocalBackend`), batched across concurrent
  requests, schema-constrained by llguidance. Training and log-likelihood scoring need it.
* ``openai``: any OpenAI-compatible server (vLLM, llama.cpp's ``llama-server``, xllamacpp)
  at ``KEDREC_LLM_BASE_URL`` serving ``KEDREC_LLM_MODEL``, through langchain-openai's
  ``ChatOpenAI``; the schema goes as ``response_format`` (``json_schema``), tokens stream
  through LangChain's callbacks (so LangGraph's ``messages`` stream shows them). A server
  that is down, refuses or is slower than ``KEDREC_LLM_TIMEOUT`` raises
  :class:`~kedrec_agent.errors.ModelUnavailableError`: the agent then answers from the
  evidence ranking with a note, never a traceback.

Example:
    >>> backend = OpenAIBackend("http://127.0.0.1:8080/v1", "kedrec")  # doctest: +SKIP
    >>> Reasoner(backend).recommend(task).choices[0].drug_id  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from kedrec_agent.config import Settings
from kedrec_agent.errors import ConfigError, ModelUnavailableError

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]


@dataclass
class Generation:
    """One answer of a backend.

    Attributes:
        text: the answer as written, from its first character (JSON, possibly broken).
        prompt_tokens: the prompt's length in tokens (as the backend counted it).
        new_tokens: tokens generated.
        seconds: wall time of the call (queueing included).
        constrained: whether decoding was held to the answer schema.
    """

    text: str
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    constrained: bool = False


@runtime_checkable
class Backend(Protocol):
    """What the reasoner needs of a model: count tokens, answer messages."""

    name: str
    context_window: int

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` (an estimate where the backend has no tokenizer here)."""
        ...

    def info(self) -> dict[str, str | None]:
        """``model`` and ``adapter`` as answers record them."""
        ...

    def answer(
        self,
        messages: Messages,
        schema: dict[str, Any],
        max_new_tokens: int,
        on_text: Callable[[str], None] | None = None,
    ) -> Generation:
        """The model's answer to ``messages``, held to ``schema`` where the backend can.

        Raises:
            ModelUnavailableError: the model cannot be reached or did not answer in time.
        """
        ...


CHARS_PER_TOKEN = 3
"""Prompt budgeting without the server's tokenizer: English runs at ~4 characters a token
with LLaMA tokenizers, so 3 over-counts and the prompt stays within the budget."""


class OpenAIBackend:
    """A model on an OpenAI-compatible server, through langchain-openai's ``ChatOpenAI``.

    Args:
        base_url: the server's API root, e.g. ``http://127.0.0.1:8080/v1``.
        model: the model (or LoRA module) name the server serves, e.g. ``kedrec``.
        timeout_s: time limit of one answer.
        api_key: the server's key, if it wants one (``KEDREC_LLM_API_KEY``).
        context_window: the context the server gives a request (prompt plus answer).
        json_schema: send the answer schema as ``response_format`` (servers that cannot
            take one get plain JSON mode off: the parser still repairs and checks).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        timeout_s: float = 60.0,
        api_key: str | None = None,
        context_window: int = 4096,
        json_schema: bool = True,
    ) -> None:
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.context_window = context_window
        self.json_schema = json_schema
        self.chat = ChatOpenAI(
            base_url=base_url,
            model=model,
            api_key=SecretStr(api_key or "not-needed"),
            timeout=timeout_s,
            max_retries=0,
            temperature=0.0,
            stream_usage=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIBackend:
        """The backend of ``KEDREC_LLM_BASE_URL`` / ``KEDREC_LLM_MODEL`` (and its key).

        Raises:
            ConfigError: no base URL is set.
        """
        if settings.llm_base_url is None:
            raise ConfigError("The openai reasoner backend needs KEDREC_LLM_BASE_URL.")
        return cls(
            settings.llm_base_url,
            settings.llm_model,
            timeout_s=settings.llm_timeout_s,
            api_key=os.environ.get("KEDREC_LLM_API_KEY") or None,
        )

    @property
    def host(self) -> str:
        """The server's host and port (what messages name: never a key or path)."""
        return urlsplit(self.base_url).netloc

    def _late(self) -> ModelUnavailableError:
        return ModelUnavailableError(
            f"the model server at {self.host} did not answer within KEDREC_LLM_TIMEOUT"
        )

    def count_tokens(self, text: str) -> int:
        """An over-estimate of ``text``'s tokens (the server's tokenizer is not here)."""
        return len(text) // CHARS_PER_TOKEN + 1

    def info(self) -> dict[str, str | None]:
        """The served model and where (the host only: never a key or path)."""
        return {"model": f"{self.model} at {self.host}", "adapter": None}

    def answer(
        self,
        messages: Messages,
        schema: dict[str, Any],
        max_new_tokens: int,
        on_text: Callable[[str], None] | None = None,
    ) -> Generation:
        """The server's answer, streamed (each piece to ``on_text``) and held to ``schema``.

        Raises:
            ModelUnavailableError: the server is down, refused, or timed out.
        """
        import openai

        options: dict[str, Any] = {"max_tokens": max_new_tokens}
        if self.json_schema:  # in the body as is: a cut-off answer is still parsed and repaired
            options["extra_body"] = {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "kedrec_answer", "schema": schema, "strict": True},
                }
            }
        started = time.perf_counter()
        pieces: list[str] = []
        usage: dict[str, Any] = {}
        try:
            for chunk in self.chat.stream(messages, **options):
                piece = chunk.content if isinstance(chunk.content, str) else ""
                if piece:
                    pieces.append(piece)
                    if on_text is not None:
                        on_text(piece)
                usage = dict(chunk.usage_metadata or usage)
                if time.perf_counter() - started > self.timeout_s:  # a total, not per read
                    raise self._late()
        except openai.APITimeoutError as exc:
            raise self._late() from exc
        except openai.APIConnectionError as exc:
            unreachable = f"the model server at {self.host} cannot be reached"
            raise ModelUnavailableError(unreachable) from exc
        except openai.APIStatusError as exc:
            raise ModelUnavailableError(
                f"the model server refused the request (HTTP {exc.status_code})"
            ) from exc
        return Generation(
            text="".join(pieces),
            prompt_tokens=int(usage.get("input_tokens", 0)),
            new_tokens=int(usage.get("output_tokens", 0)),
            seconds=time.perf_counter() - started,
            constrained=self.json_schema,
        )


__all__ = ["CHARS_PER_TOKEN", "Backend", "Generation", "Messages", "OpenAIBackend"]
