"""The base of the package's LangChain tools.

Services open on first use, and invalid arguments get an answer that names the wrong
fields (never their values) instead of an exception.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from kedrec_agent.patients.model import validation_message
from kedrec_agent.services import Services, default_services


class ServiceTool(BaseTool):
    """A tool over the package's :class:`~kedrec_agent.services.Services`.

    Answers with content (text for an LLM) and an artifact (structured data).

    Args:
        services: the stores and model it uses (default: opened from the settings on
            first use).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    args_schema: type[BaseModel]
    failure: ClassVar[str] = "The tool could not answer"
    """How an answer to an unusable call begins."""

    _services: Services | None = PrivateAttr(default=None)

    def __init__(self, services: Services | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("handle_validation_error", self.invalid_arguments)
        super().__init__(**kwargs)
        self._services = services

    @property
    def services(self) -> Services:
        """The services given, or the process-wide ones."""
        return self._services or default_services()

    @classmethod
    def invalid_arguments(cls, exc: Exception) -> str:
        """The answer to invalid arguments: which fields are wrong, never their values."""
        if isinstance(exc, ValidationError):
            return f"{cls.failure}: {validation_message(exc, 'The tool call')}"
        return f"{cls.failure}: the tool call is invalid."
