"""EarlyAnswer (rpc/early_answers.py): a request's answer sent once, from any thread,
only when its line is written whole; withdrawn, it is never sent."""

from __future__ import annotations

import threading

from agentvm_sidecar.rpc.early_answers import EarlyAnswer


def _answer(accepts: bool = True) -> tuple[EarlyAnswer, list[bytes]]:
    written: list[bytes] = []

    def write_whole(line: bytes) -> bool:
        if accepts:
            written.append(line)
        return accepts

    return EarlyAnswer(lambda result: f"{result}\n".encode(), write_whole), written


def test_an_answer_is_sent_once_and_then_cannot_be_withdrawn():
    answer, written = _answer()
    assert answer.send("first")
    assert not answer.send("second")
    assert not answer.withdraw()  # the request's task sends nothing more
    assert written == [b"first\n"]


def test_a_withdrawn_answer_is_never_sent():
    answer, written = _answer()
    assert answer.withdraw()
    assert not answer.send("late")
    assert written == []


def test_an_answer_the_output_cannot_take_whole_stays_for_the_task():
    answer, written = _answer(accepts=False)
    assert not answer.send("busy")
    assert answer.withdraw()  # the task answers as usual
    assert written == []


def test_racing_threads_send_one_answer():
    for _ in range(200):
        answer, written = _answer()
        start = threading.Barrier(4)

        def race(n: int, start: threading.Barrier = start, answer: EarlyAnswer = answer) -> None:
            start.wait()
            if n == 3:
                answer.withdraw()
            else:
                answer.send(n)

        threads = [threading.Thread(target=race, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(written) <= 1
