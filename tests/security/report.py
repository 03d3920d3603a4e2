"""``make security-report``: run tests/security and rewrite the summary table in
docs/security.md from the outcomes of the tests marked ``attack``.

Usage: ``python -m tests.security.report [extra pytest args]``. The table sits
between the TABLE_START and TABLE_END lines of docs/security.md; the rest of the
file is left alone. Exit status is pytest's.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
TABLE_START = "<!-- security-table:start (make security-report) -->"
TABLE_END = "<!-- security-table:end -->"


@dataclass
class Outcome:
    attack: str
    test: str
    result: str = "not run"
    crashed: bool = False


class AttackCollector:
    """A pytest plugin: the attack marker and outcome of every collected test."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("attack")
            if marker is not None:
                self.outcomes[item.nodeid] = Outcome(marker.args[0], item.nodeid.split("::")[-1])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self.outcomes.get(report.nodeid)
        if outcome is None:
            return
        if any(name == "sidecar_crashed" and value for name, value in report.user_properties):
            outcome.crashed = True
        if report.skipped:
            outcome.result = "skipped"
        elif report.failed:
            outcome.result = "NOT DENIED (test failed)"
        elif report.when == "call" and outcome.result == "not run":
            outcome.result = "denied"


def render(outcomes: list[Outcome]) -> str:
    tried = [o for o in outcomes if o.result not in ("skipped", "not run")]
    denied = sum(o.result == "denied" for o in tried)
    crashes = sum(o.crashed for o in outcomes)
    lines = [
        TABLE_START,
        f"**{len(tried)} attacks tried, {denied} denied, {crashes} sidecar crashes** "
        f"({len(outcomes) - len(tried)} skipped or not run).",
        "",
        "| Attack | Test | Result | Sidecar crashed |",
        "|---|---|---|---|",
    ]
    for o in sorted(outcomes, key=lambda o: o.test):
        lines.append(f"| {o.attack} | `{o.test}` | {o.result} | {'YES' if o.crashed else 'no'} |")
    lines.append(TABLE_END)
    return "\n".join(lines)


def rewrite(doc: Path, table: str) -> None:
    text = doc.read_text()
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    doc.write_text(head + table + tail)


def main(argv: list[str]) -> int:
    collector = AttackCollector()
    status = pytest.main(["-q", "-p", "no:xdist", "-p", "no:cacheprovider", str(ROOT / "tests" / "security"), *argv], plugins=[collector])
    rewrite(DOC, render(list(collector.outcomes.values())))
    print(f"rewrote the summary table in {DOC.relative_to(ROOT)}")
    return int(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
