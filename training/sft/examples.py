"""Teacher traces -> tokenized training examples, tokenized exactly as serving tokenizes.

Tokenization is done here, not by TRL, so that the prompt's tokens are exactly the ones
serving feeds the model: ``add_special_tokens=False``, as :class:`Reasoner` encodes (the
chat template text already holds any BOS). TRL 1.16's prompt-completion string path calls
``tokenizer(text=prompt)`` and ``tokenizer(text=prompt + completion)`` with the default
``add_special_tokens=True``, which prepends a second BOS with tokenizers whose
post-processor adds one (Llama 3's; SmolLM2's adds none, and for it both ways give the same
ids), and it starts the completion where the two tokenizations diverge. Here the
completion (plus EOS) is tokenized on its own and appended, and the examples go to TRL's
``SFTTrainer`` pre-tokenized as ``input_ids`` plus a ``completion_mask``, which TRL turns
into ``-100`` labels on the prompt (``completion_only_loss=True``). Examples longer than
``max_length`` are dropped and counted, never truncated.

Example:
    >>> dataset, dropped = build_dataset(model, read_traces(path), 1280)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from kedrec_agent.errors import DataMissingError, InvalidInputError
from kedrec_agent.reasoning.prompts import PROMPT_VERSION
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import ReasoningModel
from training.tasks.schema import Trace

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)


def _validation_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where + ': ' if where else ''}{first['msg']}{more}"


def read_traces(path: Path) -> list[Trace]:
    """The traces of a JSONL file (blank lines skipped), checked against the prompt version.

    Raises:
        DataMissingError: the file does not exist.
        InvalidInputError: a line is not a valid trace (the message names the line), a
            trace was collected with another prompt version, or the file holds no trace.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataMissingError(f"No traces file at {path}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Cannot read the traces file {path}: {exc}") from exc
    traces = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            trace = Trace.model_validate_json(line)
        except ValidationError as exc:
            raise InvalidInputError(
                f"{path}, line {number}: not a valid trace: {_validation_problem(exc)}"
            ) from None
        if trace.prompt_version != PROMPT_VERSION:
            raise InvalidInputError(
                f"{path}, line {number}: trace {trace.task_id!r} was collected with prompt "
                f"{trace.prompt_version!r}, but this code's prompt is {PROMPT_VERSION!r}; "
                "collect the traces again with this version."
            )
        traces.append(trace)
    if not traces:
        raise InvalidInputError(f"no traces in {path}")
    return traces


def encode_example(model: ReasoningModel, trace: Trace) -> dict[str, list[int]]:
    """One trace as token ids and a completion mask, tokenized as serving tokenizes.

    The prompt is :meth:`Reasoner.prompt` of the trace's task, tokenized without added
    special tokens (as :class:`Reasoner` does); the completion is the trace's completion
    plus the EOS token, tokenized on its own and appended.

    Returns:
        ``input_ids`` (prompt then completion) and ``completion_mask`` (1 on the
        completion's tokens, EOS included, 0 on the prompt's).
    """
    tokenizer = model.tokenizer
    prompt, _ = Reasoner(model).prompt(trace.reasoning_task)
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    completion = trace.completion + str(tokenizer.eos_token)
    completion_ids = list(tokenizer(completion, add_special_tokens=False)["input_ids"])
    return {
        "input_ids": prompt_ids + completion_ids,
        "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_ids),
    }


def build_dataset(
    model: ReasoningModel, traces: list[Trace], max_length: int
) -> tuple[Dataset, int]:
    """The tokenized training examples and how many were dropped as too long.

    Raises:
        InvalidInputError: every example is longer than ``max_length`` tokens.
    """
    from datasets import Dataset

    rows = [encode_example(model, trace) for trace in traces]
    kept = [row for row in rows if len(row["input_ids"]) <= max_length]
    dropped = len(rows) - len(kept)
    if dropped:
        log.warning(
            "%d of %d traces exceed %d tokens and are dropped", dropped, len(rows), max_length
        )
    if not kept:
        longest = max(len(row["input_ids"]) for row in rows)
        raise InvalidInputError(
            f"All {len(rows)} traces exceed max_length={max_length} tokens (the shortest "
            f"has {min(len(row['input_ids']) for row in rows)}, the longest {longest})."
        )
    return Dataset.from_list(kept), dropped
