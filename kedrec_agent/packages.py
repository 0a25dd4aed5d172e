"""Files shipped inside installed PyPI packages (the models), found without importing them."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path


def installed_file(distribution: str, suffix: str) -> Path | None:
    """The first file of ``distribution`` whose path ends with ``suffix``, if it is on disk.

    Raises:
        importlib.metadata.PackageNotFoundError: the package is not installed.
    """
    for entry in importlib.metadata.distribution(distribution).files or ():
        if str(entry).endswith(suffix):
            path = Path(str(entry.locate()))
            if path.is_file():
                return path
    return None
