"""Event subscriptions, with the output flow control the sidecar expects.

Every ``event`` notification is handed to every live subscription, in order. Output
events (``process.output``) are flow-controlled per process by the sidecar (see
``ProcessSpawnParams``): the client returns their bytes with ``process.ackOutput``
once every subscription that received an event has handed it to its consumer, or
at once when nobody is subscribed. So a subscription that is read slowly (or not
at all) holds back only the output of the processes it watches, never the
connection: other calls keep being answered, and memory stays bounded by the
sidecar's window per process.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import trio

from agentvm_protocol import Event, ProcessOutputEvent

__all__ = ["Delivery", "EventSubscription"]


class Delivery:
    """One event on its way to the subscriptions; acknowledged when the last
    holder releases it."""

    __slots__ = ("_ack", "_holds", "event")

    def __init__(self, event: Event, ack: Callable[[ProcessOutputEvent], None]) -> None:
        self.event = event
        self._ack = ack
        self._holds = 1  # the dispatcher's own, released after fan-out

    def hold(self) -> Delivery:
        self._holds += 1
        return self

    def release(self) -> None:
        self._holds -= 1
        if self._holds == 0 and isinstance(self.event, ProcessOutputEvent):
            self._ack(self.event)


EventFilter = Callable[[Any], bool]


class EventSubscription:
    """Events from the moment of subscribing, in order; ends when the sidecar goes
    away or the subscription is closed. Iterate with ``async for``, or ``receive()``.

    ``accept`` filters at delivery: an event it rejects is never held by this
    subscription, so it cannot hold back that event's process. :meth:`narrow`
    tightens the filter later and lets go of queued events the new filter rejects
    (a process handle subscribes to its VM's process events before ``spawn`` answers,
    then narrows to its pid, so its first output cannot be missed).
    """

    def __init__(self, accept: EventFilter | None = None) -> None:
        # Unbounded here because the sidecar bounds it: output waits for acks.
        self._send, self._receive = trio.open_memory_channel[Delivery](math.inf)
        self._accept = accept
        self._ended = False

    def narrow(self, accept: EventFilter) -> None:
        """Keep only events ``accept`` takes, from now on and among those queued."""
        self._accept = accept
        kept = []
        while True:
            try:
                delivery = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            if accept(delivery.event):
                kept.append(delivery)
            else:
                delivery.release()
        if self._ended:  # the send side is closed: re-queue into a fresh, ended channel
            self._send, self._receive = trio.open_memory_channel[Delivery](math.inf)
        for delivery in kept:
            self._send.send_nowait(delivery)
        if self._ended:
            self._send.close()

    def _deliver(self, delivery: Delivery) -> None:
        if self._accept is not None and not self._accept(delivery.event):
            return
        try:
            self._send.send_nowait(delivery.hold())
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            delivery.release()

    def _end(self) -> None:
        """No more events will come (the sidecar is gone)."""
        self._ended = True
        self._send.close()

    async def receive(self) -> Event:
        """The next event. Raises: trio.EndOfChannel when the stream has ended."""
        delivery = await self._receive.receive()
        delivery.release()
        return delivery.event

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving; events not yet received are acknowledged and dropped."""
        self._ended = True
        self._send.close()
        while True:
            try:
                self._receive.receive_nowait().release()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        self._receive.close()
