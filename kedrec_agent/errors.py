"""Typed exceptions: every error a user can cause says what went wrong and what to do."""

from __future__ import annotations

from collections.abc import Sequence


class KedrecError(Exception):
    """Base class of every error raised on purpose by kedrec_agent."""


class ConfigError(KedrecError):
    """A setting (environment variable) has an invalid value."""


class DataMissingError(KedrecError, FileNotFoundError):
    """A file of the data bundle (or a user-supplied file) is missing."""


class InvalidInputError(KedrecError, ValueError):
    """The caller passed input that cannot be used (empty, too long, wrong type)."""


class UnknownEntityError(KedrecError, LookupError):
    """A drug or disease name that the vocabularies do not know (or only fuzzily).

    Attributes:
        query: the text that was looked up.
        kind: ``"drug"``, ``"disease"`` or ``"entity"``.
        suggestions: the closest known names, best first (may be empty).
    """

    def __init__(self, query: str, kind: str, suggestions: Sequence[str] = ()) -> None:
        self.query = query
        self.kind = kind
        self.suggestions = list(suggestions)
        shown = query if len(query) <= 80 else query[:77] + "..."
        message = f"Unknown {kind}: {shown!r}."
        if self.suggestions:
            message += " Did you mean: " + "; ".join(self.suggestions) + "?"
        else:
            message += " No similar name is known."
        super().__init__(message)


class StoreNotBuiltError(KedrecError):
    """A derived store (RDF graph, literature index) has not been built yet."""


class StoreUnavailableError(KedrecError):
    """A store or server (SPARQL endpoint, Postgres) cannot be reached or read."""


class StoreBuildError(KedrecError):
    """A derived store could not be built (e.g. the disk is full); nothing partial was kept."""


class ModelUnavailableError(KedrecError):
    """The reasoning model cannot answer: its server is down, refused or timed out."""
