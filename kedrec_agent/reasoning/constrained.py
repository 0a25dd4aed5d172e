"""Schema-constrained decoding: the model can only write an answer of the answer schema.

:func:`answer_schema` is the JSON schema of one task's answer: each ``drug`` is one of the
task's candidate ids, each cited ``evidence`` id one the prompt showed, at most
``max_choices`` choices, a rationale of bounded length, the layout of the prompt's example
(``", "`` and ``": "``, no other whitespace). The same schema goes to an OpenAI-compatible
server as ``response_format`` (:mod:`~kedrec_agent.reasoning.backends`) and, for the local
transformers model, into :class:`GrammarLogits`, a logits processor over llguidance's
matcher (chosen by measurement, ``bench/llm.py``: its mask costs well under a millisecond
a token on this CPU and it needs no compiler; xgrammar pulls in triton, lm-format-enforcer
is pure Python).

Decoding ends when the JSON closes (the grammar then allows only the end-of-text token), so
a parse failure becomes rare; the parse-repair-fallback path stays behind it and is counted.

Example:
    >>> schema = answer_schema(["DB00331", "DB01016"], {"DB00331": ["E1"]}, max_choices=2)
    >>> [o["properties"]["drug"] for o in schema["properties"]["choices"]["items"]["anyOf"]]
    [{'const': 'DB00331'}]
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from llguidance._lib import JsonCompileOptions

    from kedrec_agent.reasoning.schema import ReasoningTask

log = logging.getLogger(__name__)

MAX_RATIONALE_CHARS = 300
"""A rationale is one or two sentences; longer text is where small models start looping."""

MAX_CITED = 4
"""At most this many evidence ids per choice."""

CONFIDENCES = [round(i / 100, 2) for i in range(101)]
"""The confidences an answer may state: two decimals at most (an unbounded number lets a
model write "1.000000…" until it runs out of tokens, and the JSON never closes)."""

LAYOUT: JsonCompileOptions = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}
"""The JSON layout of the prompt's example answer (and of :data:`ANSWER_PREFIX`)."""


def answer_schema(
    candidate_ids: Sequence[str], cites: Mapping[str, Sequence[str]], max_choices: int
) -> dict[str, Any]:
    """The JSON schema of an answer choosing among ``candidate_ids``.

    Each choice names one drug and may cite only that drug's ids in ``cites`` (the shown
    items about it, or about no drug in particular: what the answer checker keeps).
    Drugs with nothing to cite are left out of the schema, unless no drug has anything
    (then the checker's fallback decides).

    Args:
        candidate_ids: the task's candidates, in the prompt's order.
        cites: per candidate id, the evidence ids a choice of it may cite.
        max_choices: the most choices the answer may hold.
    """
    drugs = [d for d in candidate_ids if cites.get(d)] or list(candidate_ids)
    options = [
        {
            "type": "object",
            "properties": {
                "drug": {"const": drug},
                "rationale": {"type": "string", "maxLength": MAX_RATIONALE_CHARS},
                "evidence": {
                    "type": "array",
                    "items": {"enum": list(cites[drug])},
                    "maxItems": MAX_CITED,
                }
                if cites.get(drug)
                else {"type": "array", "maxItems": 0},
            },
            "required": ["drug", "rationale", "evidence"],
            "additionalProperties": False,
        }
        for drug in drugs
    ]
    return {
        "type": "object",
        "properties": {
            "choices": {"type": "array", "items": {"anyOf": options}, "maxItems": max_choices},
            "confidence": {"enum": CONFIDENCES},
        },
        "required": ["choices", "confidence"],
        "additionalProperties": False,
    }


def task_schema(task: ReasoningTask, shown: Collection[str]) -> dict[str, Any]:
    """:func:`answer_schema` of ``task`` whose prompt showed the evidence ids ``shown``."""
    cites = {
        c.id: [e.id for e in task.evidence if e.id in shown and (not e.drugs or c.id in e.drugs)]
        for c in task.candidates
    }
    return answer_schema(task.candidate_ids(), cites, task.max_choices)


def available() -> bool:
    """Whether the grammar library (llguidance) is installed."""
    try:
        import llguidance  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _ll_tokenizer(tokenizer: Any) -> Any:
    """The tokenizer as llguidance reads it (built once per tokenizer: ~1 s)."""
    import llguidance.hf

    return llguidance.hf.from_tokenizer(tokenizer)


class GrammarLogits:
    """A transformers logits processor: each row may only continue its schema's JSON.

    Args:
        tokenizer: the model's (fast) tokenizer.
        schemas: one JSON schema per row of the batch.
        prefixes: per row, the tokens of the answer already written in the prompt (the
            answer prefix); the grammar consumes them first.

    Raises:
        ValueError: a schema the grammar library cannot compile.
    """

    def __init__(
        self, tokenizer: Any, schemas: Sequence[dict[str, Any]], prefixes: Sequence[list[int]]
    ) -> None:
        import llguidance

        ll = _ll_tokenizer(tokenizer)
        self.matchers = []
        for schema, prefix in zip(schemas, prefixes, strict=True):
            grammar = llguidance.LLMatcher.grammar_from_json_schema(
                json.dumps(schema), overrides=LAYOUT
            )
            matcher = llguidance.LLMatcher(ll, grammar, log_level=0)
            if prefix and not matcher.consume_tokens(prefix):
                raise ValueError(f"the answer prefix does not fit: {matcher.get_error()}")
            if matcher.is_error():
                raise ValueError(f"cannot compile the answer schema: {matcher.get_error()}")
            self.matchers.append(matcher)
        eos = tokenizer.eos_token_id
        self.eos = [eos] if isinstance(eos, int) else list(eos or [])
        self.steps = 0

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Mask ``scores`` to the tokens each row's grammar allows next."""
        import numpy as np
        import torch

        if self.steps:
            for row, matcher in enumerate(self.matchers):
                if not matcher.is_stopped():  # a finished row is fed padding: ignore it
                    matcher.consume_token(int(input_ids[row, -1]))
        self.steps += 1
        allowed = []
        for matcher in self.matchers:
            bits = np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8)
            ok = np.unpackbits(bits, bitorder="little")[: scores.shape[-1]].astype(bool)
            if not ok.any():  # the row left the grammar (should not happen): end it
                ok[self.eos] = True
            allowed.append(ok)
        mask = torch.from_numpy(np.stack(allowed)).to(scores.device)
        return scores.masked_fill(~mask, float("-inf"))

    def failed(self) -> list[str]:
        """The errors of rows whose matcher left the grammar (should be none)."""
        return [m.get_error() for m in self.matchers if m.is_error()]


__all__ = ["GrammarLogits", "answer_schema", "available", "task_schema"]
