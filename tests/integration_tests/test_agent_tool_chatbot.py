"""`kedrec_tool` inside a LangChain v1 chatbot (create_agent), on the real stores and model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage

pytestmark = pytest.mark.integration


class _ScriptedChat(GenericFakeChatModel):
    """Replies from a script; accepts tools like a real chat model."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> _ScriptedChat:
        return self


def test_chatbot_calls_the_tool_and_reads_its_answer() -> None:
    from kedrec_agent import kedrec_tool

    note = "60-year-old woman with hypertension on warfarin, allergic to penicillin"
    script = iter(
        [
            AIMessage(
                content="",
                tool_calls=[{"name": "kedrec_recommend", "args": {"patient": note}, "id": "c1"}],
            ),
            AIMessage(content="Here is what KEDRec suggests, with its warnings."),
        ]
    )
    agent = create_agent(_ScriptedChat(messages=script), tools=[kedrec_tool])
    result = agent.invoke({"messages": [{"role": "user", "content": "What should she take?"}]})
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert len(tool_messages) == 1 and tool_messages[0].tool_call_id == "c1"
    content = str(tool_messages[0].content)
    assert content.startswith("Decision support for a clinician, not a prescription")
    artifact = tool_messages[0].artifact
    assert [c["id"] for c in artifact["patient"]["conditions"]] == ["MESH:D006973"]
    assert artifact["recommendations"] or artifact["abstained"]
    assert result["messages"][-1].content.startswith("Here is what KEDRec suggests")
