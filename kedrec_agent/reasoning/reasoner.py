"""The reasoning step: choose among candidate drugs and explain, grounded in given evidence.

Two ways to use the model:

* :meth:`Reasoner.recommend` generates a JSON answer (greedy, continuing a fixed answer
  prefix, stopping as soon as the JSON object closes), then parses, repairs and checks it
  (:mod:`~kedrec_agent.reasoning.output`); anything unusable falls back to a deterministic
  ranking by evidence. It never raises on bad model output.
* :meth:`Reasoner.score` ranks the candidates by the model's log-likelihood of writing
  each one's id as its first choice: one forward pass over the prompt, then one batched
  pass over the candidates' ids on the cached prompt (cheap, deterministic).

Example:
    >>> reasoner = Reasoner(load_model())  # doctest: +SKIP
    >>> reasoner.recommend(task).choices[0].drug_id  # doctest: +SKIP
    'DB00619'
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kedrec_agent.reasoning.output import fallback, recommendation_from_text
from kedrec_agent.reasoning.prompts import ANSWER_PREFIX, build_messages
from kedrec_agent.reasoning.runtime import ReasoningModel
from kedrec_agent.reasoning.schema import ReasoningTask, Recommendation

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

CACHE = "static"
"""Preallocated KV cache: decode 45 vs 34 tokens/s with the dynamic one (bench/llm.py);
torch.compile on top was slower on CPU (34 tokens/s after a 25 s compile) and is not used."""

TEMPLATE_OVERHEAD = 48
"""Tokens the chat template adds around the system and user turns."""


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


class _StopWhenJsonCloses:
    """A transformers stopping criterion: the answer's JSON is complete.

    Or it holds as many choices as were asked for (the parser closes what is left open).
    """

    def __init__(self, tokenizer: Any, prompt_tokens: int, prefix: str, choices: int) -> None:
        self.tokenizer = tokenizer
        self.prompt_tokens = prompt_tokens
        self.prefix = prefix
        self.choices = choices

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        import torch

        done = []
        for row in input_ids:
            new = self.tokenizer.decode(row[self.prompt_tokens :], skip_special_tokens=True)
            done.append("}" in new and json_closed(self.prefix + new, self.choices))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


@functools.cache
def _streamer_class() -> type:
    from transformers import TextStreamer

    class CallbackStreamer(TextStreamer):  # type: ignore[misc]
        """Hands each decoded piece of the answer (not the prompt) to a callback."""

        def __init__(self, tokenizer: Any, callback: Callable[[str], None]) -> None:
            super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
            self.callback = callback

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                self.callback(text)

    return CallbackStreamer


@dataclass
class Timings:
    """Where the time of the last call went (seconds, tokens)."""

    prompt_tokens: int = 0
    new_tokens: int = 0
    prefill_s: float = 0.0
    total_s: float = 0.0


@dataclass
class Reasoner:
    """Prompts the model with a task and turns its answer into a checked recommendation.

    Args:
        model: the loaded model (see :func:`~kedrec_agent.reasoning.runtime.load_model`).
        max_new_tokens: the answer's token limit.
        max_prompt_tokens: the prompt's token limit (evidence is cut to fit); never more
            than the model's context window minus the answer.
    """

    model: ReasoningModel
    max_new_tokens: int = 200
    max_prompt_tokens: int = 1024
    last: Timings = field(default_factory=Timings)

    def _budget(self) -> int:
        window = self.model.context_window - self.max_new_tokens
        return min(self.max_prompt_tokens, window) - TEMPLATE_OVERHEAD

    def prompt(self, task: ReasoningTask) -> tuple[str, set[str]]:
        """The prompt text (ending with the answer prefix) and the evidence ids it shows."""
        messages, shown = build_messages(task, self.model.count_tokens, self._budget())
        return self.model.prompt_text(messages, ANSWER_PREFIX), set(shown)

    def _encode(self, text: str) -> torch.Tensor:
        ids = self.model.tokenizer(text, add_special_tokens=False, return_tensors="pt")
        tensor: torch.Tensor = ids["input_ids"].to(self.model.device)
        return tensor

    def generate(
        self, prompt: str, max_choices: int = 10, on_text: Callable[[str], None] | None = None
    ) -> str:
        """Greedy continuation of ``prompt``.

        Stops when the JSON closes, holds ``max_choices`` choices, or at the token limit.

        Args:
            prompt: the prompt text (see :meth:`prompt`).
            max_choices: stop once this many choices are complete.
            on_text: called with each newly decoded piece of the answer, as it is written.
        """
        import torch
        from transformers import StoppingCriteriaList

        input_ids = self._encode(prompt)
        started = time.perf_counter()
        stop = _StopWhenJsonCloses(
            self.model.tokenizer, input_ids.shape[1], ANSWER_PREFIX, max_choices
        )
        with self.model.lock, torch.inference_mode():
            output = self.model.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                cache_implementation=CACHE,
                stopping_criteria=StoppingCriteriaList([stop]),
                pad_token_id=self.model.tokenizer.pad_token_id,
                streamer=None
                if on_text is None
                else _streamer_class()(self.model.tokenizer, on_text),
            )
        new = output[0, input_ids.shape[1] :]
        self.last = Timings(
            prompt_tokens=int(input_ids.shape[1]),
            new_tokens=int(new.shape[0]),
            total_s=time.perf_counter() - started,
        )
        return str(self.model.tokenizer.decode(new, skip_special_tokens=True))

    def recommend(
        self, task: ReasoningTask, on_text: Callable[[str], None] | None = None
    ) -> Recommendation:
        """The model's checked choice(s) for ``task``; the evidence ranking if unusable.

        ``on_text`` receives the raw answer as it is generated (for streaming).
        """
        try:
            prompt, shown = self.prompt(task)
            text = self.generate(prompt, task.max_choices, on_text)
        except Exception as exc:  # a model failure must not crash the graph
            log.warning("reasoning model failed: %s", type(exc).__name__)
            return fallback(task, f"the model failed ({type(exc).__name__})")
        return recommendation_from_text(ANSWER_PREFIX + text, task, shown)

    def score(self, task: ReasoningTask) -> list[tuple[str, float]]:
        """Candidates with the model's log-likelihood of writing each id first, best first.

        The score is the summed log-probability of the id's tokens and the closing quote
        after the answer prefix; ties keep the given order.
        """
        import torch

        prompt, _ = self.prompt(task)
        tokenizer = self.model.tokenizer
        prompt_ids = self._encode(prompt)
        continuations = [
            tokenizer(f'{c.id}"', add_special_tokens=False)["input_ids"] for c in task.candidates
        ]
        width = max(len(c) for c in continuations)
        pad = int(tokenizer.pad_token_id)
        batch = torch.tensor([c + [pad] * (width - len(c)) for c in continuations])
        batch = batch.to(self.model.device)
        started = time.perf_counter()
        with self.model.lock, torch.inference_mode():
            head = self.model.model(input_ids=prompt_ids, use_cache=True, logits_to_keep=1)
            prefill = time.perf_counter() - started
            cache = head.cache
            cache.batch_repeat_interleave(len(continuations))
            mask = torch.ones(
                (len(continuations), prompt_ids.shape[1] + width), device=self.model.device
            )
            tail = self.model.model(input_ids=batch, cache=cache, attention_mask=mask)
        # log p(first token | prompt) comes from the prompt's last position.
        first = torch.log_softmax(head.logits[0, -1].float(), dim=-1)
        rest = torch.log_softmax(tail.logits.float(), dim=-1)
        scores = []
        for i, ids in enumerate(continuations):
            total = float(first[ids[0]])
            for j in range(1, len(ids)):
                total += float(rest[i, j - 1, ids[j]])
            scores.append((task.candidates[i].id, total))
        self.last = Timings(
            prompt_tokens=int(prompt_ids.shape[1]),
            prefill_s=prefill,
            total_s=time.perf_counter() - started,
        )
        order = sorted(range(len(scores)), key=lambda i: -scores[i][1])
        return [scores[i] for i in order]
