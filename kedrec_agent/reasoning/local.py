"""The local reasoning backend: the transformers model in this process, batched.

Concurrent requests share forward passes (dynamic batching): a request waits up to
:data:`WINDOW_S` for others, then up to :data:`MAX_BATCH` of them are prefilled together
(left-padded) and decoded together, each row stopping on its own when its JSON closes
(the schema grammar then allows only the end-of-text token) or at its token limit. One
worker thread owns the model's forward passes, so no request waits on a global lock
while another decodes alone; a request never sees another's tokens (each row has its own
grammar, stopping rule and stream).

The answer continues :data:`~kedrec_agent.reasoning.prompts.ANSWER_PREFIX`, written at the
end of the prompt (so does scoring), and decoding is held to the task's answer schema by
:class:`~kedrec_agent.reasoning.constrained.GrammarLogits` (``constrained=False``, or no
llguidance: stopped when the JSON closes instead, the old way).

Example:
    >>> backend = LocalBackend.of(load_model())  # doctest: +SKIP
    >>> backend.answer(messages, schema, max_new_tokens=200).text  # doctest: +SKIP
    '{"choices": [{"drug": "DB00331", ...'
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kedrec_agent.reasoning import constrained as grammar
from kedrec_agent.reasoning.backends import Generation, Messages
from kedrec_agent.reasoning.prompts import ANSWER_PREFIX

if TYPE_CHECKING:
    import torch

    from kedrec_agent.reasoning.runtime import ReasoningModel

log = logging.getLogger(__name__)

CACHE = "static"
"""Preallocated KV cache: decode 45 vs 34 tokens/s with the dynamic one (bench/llm.py);
torch.compile on top was slower on CPU (34 tokens/s after a 25 s compile) and is not used."""

MAX_BATCH = 8
"""Rows decoded together at most (the int4 decode kernel's row limit, ``int4.py``)."""

WINDOW_S = 0.005
"""How long the first request of a batch waits for others to join it."""

IDLE_S = 2.0
"""An idle worker thread ends after this long (its OpenMP team with it: see
:func:`kedrec_agent.hardware.in_own_thread`); the next request starts a new one."""


def json_closed(text: str, max_choices: int | None = None) -> bool:
    """Whether ``text`` holds a complete top-level JSON object (quotes and escapes aware).

    With ``max_choices``, also true once that many choice objects are complete.
    """
    depth = 0
    closed = 0
    in_string = escaped = started = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
            started = True
        elif char in "}]":
            depth -= 1
            if started and depth <= 0:
                return True
            if char == "}" and depth == 2:
                closed += 1
                if max_choices is not None and closed >= max_choices:
                    return True
    return False


@dataclass
class _Request:
    prompt: list[int]
    schema: dict[str, Any] | None
    max_new_tokens: int
    max_choices: int
    on_text: Callable[[str], None] | None
    future: Future[Generation] = field(default_factory=Future)
    pieces: queue.SimpleQueue[str | None] = field(default_factory=queue.SimpleQueue)
    queued: float = field(default_factory=time.perf_counter)


class _Rows:
    """Per row of a batch: its new tokens, when it stops, what it has streamed."""

    def __init__(self, tokenizer: Any, requests: list[_Request], grammars: bool) -> None:
        self.tokenizer = tokenizer
        self.requests = requests
        self.grammars = grammars
        self.tokens: list[list[int]] = [[] for _ in requests]
        self.streamed = ["" for _ in requests]
        self.done = [False for _ in requests]
        self.eos = set(_eos_ids(tokenizer))

    def put(self, value: torch.Tensor) -> None:
        """A transformers streamer's ``put``: the prompt first, then one token per row."""
        if value.dim() > 1:  # the prompt
            return
        for row, token in enumerate(value.tolist()):
            if self.done[row]:
                continue
            request = self.requests[row]
            if token in self.eos:
                self.done[row] = True
                continue
            self.tokens[row].append(token)
            text = self.text(row)
            closed = not self.grammars and json_closed(ANSWER_PREFIX + text, request.max_choices)
            if closed or len(self.tokens[row]) >= request.max_new_tokens:
                self.done[row] = True
            if request.on_text is not None and len(text) > len(self.streamed[row]):
                request.pieces.put(text[len(self.streamed[row]) :])  # the caller streams it
                self.streamed[row] = text

    def end(self) -> None:
        """A transformers streamer's ``end``."""

    def text(self, row: int) -> str:
        """Row ``row``'s answer so far (after the prefix)."""
        return str(self.tokenizer.decode(self.tokens[row], skip_special_tokens=True))

    def stopping(self) -> Callable[..., torch.Tensor]:
        """A stopping criterion: each row is done when :meth:`put` says so."""
        import torch

        def stop(input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
            return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

        return stop


_BACKENDS = threading.Lock()


def _eos_ids(tokenizer: Any) -> list[int]:
    eos = tokenizer.eos_token_id
    return [eos] if isinstance(eos, int) else list(eos or [])


class LocalBackend:
    """The local model behind the :class:`~kedrec_agent.reasoning.backends.Backend` API.

    Use :meth:`of` to get the one backend of a loaded model (its batch worker is shared).

    Args:
        model: the loaded model.
        constrained: hold decoding to the answer schema (when llguidance is installed).
    """

    name = "transformers"

    def __init__(self, model: ReasoningModel, constrained: bool = True) -> None:
        self.model = model
        self.context_window = model.context_window
        self.constrained = constrained and grammar.available()
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._start = threading.Lock()
        self.batches: list[int] = []  # batch sizes run (bench and tests read them)

    @classmethod
    def of(cls, model: ReasoningModel, constrained: bool = True) -> LocalBackend:
        """The shared backend of ``model`` (created on first use)."""
        with _BACKENDS:
            found = model.backends.get(constrained)
            if found is None:
                found = model.backends[constrained] = cls(model, constrained)
        assert isinstance(found, LocalBackend)
        return found

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` with the model's tokenizer."""
        return self.model.count_tokens(text)

    def info(self) -> dict[str, str | None]:
        """The model folder, dtype and quantisation, and the adapter's name."""
        m = self.model
        dtype = str(m.dtype).removeprefix("torch.")
        return {
            "model": f"{m.path.name} ({dtype}, {m.quantization})",
            "adapter": m.adapter.name if m.adapter else None,
        }

    def prompt_ids(self, messages: Messages) -> tuple[list[int], list[int]]:
        """The chat-templated prompt's tokens and the answer prefix's (as generation sees)."""
        tokenizer = self.model.tokenizer
        body = tokenizer(self.model.prompt_text(messages), add_special_tokens=False)
        prefix = tokenizer(ANSWER_PREFIX, add_special_tokens=False)
        return list(body["input_ids"]), list(prefix["input_ids"])

    def answer(
        self,
        messages: Messages,
        schema: dict[str, Any],
        max_new_tokens: int,
        on_text: Callable[[str], None] | None = None,
    ) -> Generation:
        """The model's answer (``ANSWER_PREFIX`` and its continuation), batched with others."""
        body, prefix = self.prompt_ids(messages)
        choices = int(schema.get("properties", {}).get("choices", {}).get("maxItems", 10))
        return self.generate_ids(body + prefix, schema, max_new_tokens, on_text, choices)

    def generate_ids(
        self,
        prompt: list[int],
        schema: dict[str, Any] | None,
        max_new_tokens: int,
        on_text: Callable[[str], None] | None = None,
        max_choices: int = 10,
    ) -> Generation:
        """Greedy continuation of ``prompt`` (ending with the answer prefix's tokens).

        Held to ``schema`` when the backend is constrained and a schema is given; else it
        stops when the JSON closes or holds ``max_choices`` choices.
        """
        request = _Request(
            prompt, schema if self.constrained else None, max_new_tokens, max_choices, on_text
        )
        self._queue.put(request)
        self._ensure_worker()
        while (piece := request.pieces.get()) is not None:  # streamed in the caller's thread
            if on_text is not None:
                on_text(piece)
        return request.future.result()

    def _ensure_worker(self) -> None:
        with self._start:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._serve, name="kedrec-reasoner", daemon=True
                )
                self._worker.start()

    def _serve(self) -> None:
        while True:
            try:
                batch = [self._queue.get(timeout=IDLE_S)]
            except queue.Empty:
                with self._start:  # generate_ids queues first, then checks for a worker
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            deadline = time.perf_counter() + WINDOW_S
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.perf_counter())))
                except queue.Empty:
                    break
            try:
                results = self._run(batch)
            except Exception as exc:  # handed to every caller of the batch
                for request in batch:
                    request.future.set_exception(exc)
                    request.pieces.put(None)
                continue
            for request, result in zip(batch, results, strict=True):
                request.future.set_result(result)
                request.pieces.put(None)

    def _run(self, batch: list[_Request]) -> list[Generation]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        tokenizer = self.model.tokenizer
        pad = int(tokenizer.pad_token_id)
        width = max(len(r.prompt) for r in batch)
        ids = torch.tensor([[pad] * (width - len(r.prompt)) + r.prompt for r in batch])
        mask = torch.tensor([[0] * (width - len(r.prompt)) + [1] * len(r.prompt) for r in batch])
        grammars = all(r.schema is not None for r in batch)
        rows = _Rows(tokenizer, batch, grammars)
        processors = LogitsProcessorList()
        if grammars:
            prefix = tokenizer(ANSWER_PREFIX, add_special_tokens=False)["input_ids"]
            schemas = [r.schema or {} for r in batch]
            processors.append(grammar.GrammarLogits(tokenizer, schemas, [prefix] * len(batch)))
        started = time.perf_counter()
        with self.model.lock, torch.inference_mode():
            self.model.model.generate(
                input_ids=ids.to(self.model.device),
                attention_mask=mask.to(self.model.device),
                max_new_tokens=max(r.max_new_tokens for r in batch),
                do_sample=False,
                cache_implementation=CACHE,
                logits_processor=processors,
                stopping_criteria=StoppingCriteriaList([rows.stopping()]),
                pad_token_id=pad,
                streamer=rows,
            )
        self.batches.append(len(batch))
        ended = time.perf_counter()
        log.debug("batch of %d in %.2f s", len(batch), ended - started)
        return [
            Generation(
                text=ANSWER_PREFIX + rows.text(i),
                prompt_tokens=len(r.prompt),
                new_tokens=len(rows.tokens[i]),
                seconds=ended - r.queued,
                constrained=grammars,
            )
            for i, r in enumerate(batch)
        ]


__all__ = ["CACHE", "IDLE_S", "MAX_BATCH", "WINDOW_S", "LocalBackend", "json_closed"]
