"""The session event log keeps a bounded tail, by count and by bytes."""

from __future__ import annotations

from agentvm_sidecar.acp._events import EventLog


def chunk(text: str) -> dict:
    return {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}}


def test_the_log_keeps_the_last_events_by_count_and_reports_the_dropped():
    log = EventLog("ses-1", capacity=3)
    for i in range(5):
        log.append(chunk(str(i)))
    events, dropped = log.since(0)
    assert [e.seq for e in events] == [3, 4, 5]
    assert dropped == 2
    assert log.since(4)[0][0].seq == 5 and log.since(4)[1] == 0


def test_huge_updates_are_dropped_to_stay_within_the_byte_budget_but_the_newest_stays():
    log = EventLog("ses-1", capacity=1024, budget_bytes=10_000)
    for _ in range(5):
        log.append(chunk("x" * 4000))
    events, dropped = log.since(0)
    assert [e.seq for e in events] == [4, 5]
    assert dropped == 3
    log.append(chunk("y" * 50_000))  # alone over the budget: still kept
    assert [e.seq for e in log.since(0)[0]] == [6]
