"""Helpers for session tests: record a client's streamed session updates, and answer
the sidecar's permission requests from a test."""

from __future__ import annotations

import trio

from agentvm_protocol import SessionUpdateEvent

__all__ = ["Recorder", "answer_permissions"]


class Recorder:
    """Collects one session's streamed updates, in arrival order."""

    def __init__(self) -> None:
        self.events: list = []
        self.changed = trio.Event()

    async def run(self, client) -> None:
        async with client.events() as subscription:
            async for event in subscription:
                if isinstance(event, SessionUpdateEvent):
                    self.events.append(event)
                    self.changed.set()
                    self.changed = trio.Event()

    def kinds(self) -> list[str]:
        return [e.update["sessionUpdate"] for e in self.events]

    def text(self, kind: str = "agent_message_chunk") -> str:
        return "".join(e.update["content"]["text"] for e in self.events if e.update["sessionUpdate"] == kind)

    async def wait_for_text(self, needle: str) -> None:
        while needle not in self.text():
            await self.changed.wait()


def answer_permissions(client, option_id: str | None, asked: list) -> None:
    """Answer every permission request with ``option_id`` (never, when None),
    appending its params to ``asked``."""

    async def handler(params):
        asked.append(params)
        if option_id is None:
            await trio.sleep_forever()
        return {"outcome": {"outcome": "selected", "optionId": option_id}}

    client.on_request("session.requestPermission", handler)
