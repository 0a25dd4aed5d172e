"""The reasoning step: choose among candidate drugs and explain, grounded in given evidence.

Two ways to use the model:

* :meth:`Reasoner.recommend` generates a JSON answer on its backend (greedy, held to the
  task's answer schema: :mod:`~kedrec_agent.reasoning.constrained`; the local model
  continues a fixed answer prefix and is batched with concurrent requests:
  :mod:`~kedrec_agent.reasoning.local`), then parses, repairs and checks it
  (:mod:`~kedrec_agent.reasoning.output`); anything unusable falls back to a deterministic
  ranking by evidence. It never raises on bad model output.
* :meth:`Reasoner.score` (local model only) ranks the candidates by the model's
  log-likelihood of writing each one's id as its first choice: one forward pass over the
  prompt, then one batched pass over the candidates' ids on the cached prompt (cheap,
  deterministic).

Example:
    >>> reasoner = Reasoner(load_model())  # doctest: +SKIP
    >>> reasoner.recommend(task).choices[0].drug_id  # doctest: +SKIP
    'DB00619'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kedrec_agent.errors import ConfigError, ModelUnavailableError
from kedrec_agent.hardware import in_own_thread
from kedrec_agent.reasoning.backends import Backend
from kedrec_agent.reasoning.constrained import task_schema
from kedrec_agent.reasoning.local import LocalBackend
from kedrec_agent.reasoning.output import fallback, recommendation_from_text
from kedrec_agent.reasoning.prompts import ANSWER_PREFIX, build_messages
from kedrec_agent.reasoning.runtime import ReasoningModel
from kedrec_agent.reasoning.schema import ReasoningTask, Recommendation

log = logging.getLogger(__name__)

TEMPLATE_OVERHEAD = 48
"""Tokens the chat template adds around the system and user turns."""


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
        model: the loaded local model (see
            :func:`~kedrec_agent.reasoning.runtime.load_model`), run by its shared
            :class:`~kedrec_agent.reasoning.local.LocalBackend`, or any other
            :class:`~kedrec_agent.reasoning.backends.Backend` (an OpenAI-compatible server).
        max_new_tokens: the answer's token limit.
        max_prompt_tokens: the prompt's token limit (evidence is cut to fit); never more
            than the model's context window minus the answer.
        constrained: hold the local model's decoding to the answer schema (servers always
            get the schema).
    """

    model: ReasoningModel | Backend
    max_new_tokens: int = 200
    max_prompt_tokens: int = 1024
    constrained: bool = True
    last: Timings = field(default_factory=Timings)

    @property
    def backend(self) -> Backend:
        """Where the answers are generated."""
        if isinstance(self.model, ReasoningModel):
            return LocalBackend.of(self.model, self.constrained)
        return self.model

    def _local(self) -> ReasoningModel:
        if not isinstance(self.model, ReasoningModel):
            raise ConfigError(
                "Prompt text and log-likelihood scoring need the local model "
                "(KEDREC_REASONER_BACKEND=transformers)."
            )
        return self.model

    def _budget(self) -> int:
        window = self.backend.context_window - self.max_new_tokens
        return min(self.max_prompt_tokens, window) - TEMPLATE_OVERHEAD

    def messages(self, task: ReasoningTask) -> tuple[list[dict[str, str]], set[str]]:
        """The chat messages of ``task`` and the evidence ids they show."""
        messages, shown = build_messages(task, self.backend.count_tokens, self._budget())
        return messages, set(shown)

    def prompt(self, task: ReasoningTask) -> tuple[str, set[str]]:
        """The local model's prompt text (ending with the answer prefix) and the shown ids.

        Raises:
            ConfigError: the reasoner runs on a server (no local chat template).
        """
        messages, shown = self.messages(task)
        return self._local().prompt_text(messages, ANSWER_PREFIX), shown

    def generate(
        self, prompt: str, max_choices: int = 10, on_text: Callable[[str], None] | None = None
    ) -> str:
        """Greedy continuation of the local model's ``prompt``, not held to a schema.

        Stops when the JSON closes, holds ``max_choices`` choices, or at the token limit.

        Args:
            prompt: the prompt text (see :meth:`prompt`).
            max_choices: stop once this many choices are complete.
            on_text: called with each newly decoded piece of the answer, as it is written.
        """
        model = self._local()
        ids = model.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer = LocalBackend.of(model, self.constrained).generate_ids(
            list(ids), None, self.max_new_tokens, on_text, max_choices
        )
        self.last = Timings(
            prompt_tokens=answer.prompt_tokens,
            new_tokens=answer.new_tokens,
            total_s=answer.seconds,
        )
        return answer.text.removeprefix(ANSWER_PREFIX)

    def recommend(
        self, task: ReasoningTask, on_text: Callable[[str], None] | None = None
    ) -> Recommendation:
        """The model's checked choice(s) for ``task``; the evidence ranking if unusable.

        ``on_text`` receives the raw answer as it is generated (for streaming).

        Raises:
            ModelUnavailableError: the model's server cannot be reached or timed out (the
                caller decides: the agent answers every condition from the evidence).
        """
        try:
            messages, shown = self.messages(task)
            answer = self.backend.answer(
                messages, task_schema(task, shown), self.max_new_tokens, on_text
            )
        except ModelUnavailableError:
            raise
        except Exception as exc:  # a model failure must not crash the graph
            log.warning("reasoning model failed: %s", type(exc).__name__)
            return fallback(task, f"the model failed ({type(exc).__name__})")
        self.last = Timings(
            prompt_tokens=answer.prompt_tokens,
            new_tokens=answer.new_tokens,
            total_s=answer.seconds,
        )
        return recommendation_from_text(answer.text, task, shown)

    def score(self, task: ReasoningTask) -> list[tuple[str, float]]:
        """Candidates with the model's log-likelihood of writing each id first, best first.

        The score is the summed log-probability of the id's tokens and the closing quote
        after the answer prefix; ties keep the given order.
        """
        import torch

        prompt, _ = self.prompt(task)
        model = self._local()
        tokenizer = model.tokenizer
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        prompt_ids = ids.to(model.device)
        continuations = [
            tokenizer(f'{c.id}"', add_special_tokens=False)["input_ids"] for c in task.candidates
        ]
        width = max(len(c) for c in continuations)
        pad = int(tokenizer.pad_token_id)
        batch = torch.tensor([c + [pad] * (width - len(c)) for c in continuations])
        batch = batch.to(model.device)
        started = time.perf_counter()

        def forward() -> tuple[Any, Any, float]:
            with model.lock, torch.inference_mode():
                head = model.model(input_ids=prompt_ids, use_cache=True, logits_to_keep=1)
                prefill = time.perf_counter() - started
                cache = head.cache
                cache.batch_repeat_interleave(len(continuations))
                mask = torch.ones(
                    (len(continuations), prompt_ids.shape[1] + width), device=model.device
                )
                return head, model.model(input_ids=batch, cache=cache, attention_mask=mask), prefill

        head, tail, prefill = in_own_thread(forward)  # see hardware.in_own_thread
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
