"""Task files: JSONL written and read, where ``kedrec train`` keeps them, and file hashes.

A task list is one :class:`~training.tasks.schema.Task` a line; :func:`file_hash` is the
sha256 that traces, adapters and evaluation results record of their input files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import InvalidInputError
from training.tasks.inputs import numbered_lines
from training.tasks.schema import Task


def training_dir(settings: Settings | None = None) -> Path:
    """``KEDREC_HOME/training``: where ``kedrec train`` writes unless told otherwise."""
    return Path((settings or get_settings()).home) / "training"


def default_tasks_file(split: str, settings: Settings | None = None) -> Path:
    """Where ``kedrec train tasks --split <split>`` writes its tasks by default."""
    return training_dir(settings) / f"tasks_{split}.jsonl"


def write_tasks(tasks: Iterable[Task], path: Path) -> Path:
    """Write tasks as JSONL (one task a line), atomically; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with scratch.open("w", encoding="utf-8") as handle:
            for task in tasks:
                handle.write(task.model_dump_json() + "\n")
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)
    return path


def read_tasks(path: Path) -> list[Task]:
    """Read a tasks JSONL file (blank lines are skipped).

    Raises:
        DataMissingError: the file does not exist.
        InvalidInputError: a line is not a valid task, or repeats a task id (file and line
            named).
    """
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            task = Task.model_validate_json(line)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first.get("loc", ()))) or "line"
            raise InvalidInputError(
                f"{path}, line {number}: not a task ({where}: {first.get('msg', exc)})"
            ) from None
        if task.task_id in seen:
            raise InvalidInputError(
                f"{path}, line {number}: task {task.task_id!r} repeats line {seen[task.task_id]}"
            )
        seen[task.task_id] = number
        tasks.append(task)
    return tasks


def file_hash(path: Path) -> str:
    """sha256 of a file, hex (the data hash recorded in provenance and model cards)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
