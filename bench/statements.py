"""PostgreSQL's own account of where a span of a benchmark spent its statement time: the server logs every statement's
duration (`log_min_duration_statement = 0`) while the span runs, and the log is summed by statement afterwards.

A statement's duration is its time in the server, waits included; for the bulk statements of an import, which run
on a core of their own, it is close to their CPU time. Statements are told apart by their first 100 characters with
the white space squeezed; parse and bind steps of the extended protocol, logged apart, are summed as one line.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

_DURATION = re.compile(r"LOG:  duration: ([0-9.]+) ms  (statement|execute [^:]*|parse [^:]*|bind [^:]*): ?(.*)")
_KEY_LENGTH = 100
PARSE_AND_BIND = "[parse and bind steps]"


@dataclass
class Totals:
    """Seconds and executions by statement."""

    seconds: Counter[str] = field(default_factory=Counter)
    count: Counter[str] = field(default_factory=Counter)

    def add(self, key: str, milliseconds: float) -> None:
        self.seconds[key] += milliseconds / 1000
        self.count[key] += 1

    def print(self, top: int, indent: str = "  ") -> None:
        print(f"{indent}statement time in all: {sum(self.seconds.values()):.2f} s over {sum(self.count.values()):,}")
        for key, seconds in self.seconds.most_common(top):
            print(f"{indent}{seconds:7.2f} s {self.count[key]:7,}  {key}")


def totals(lines: list[str]) -> Totals:
    """The durations of a server log's lines, summed by statement (a statement's text runs on over the lines after
    its first, each starting with a tab)."""
    found = Totals()
    pending: tuple[str, float] | None = None
    for line in [*lines, ""]:
        if pending is not None and line.startswith("\t") and len(pending[0]) < _KEY_LENGTH:
            pending = (f"{pending[0]} {line.strip()}", pending[1])
            continue
        if pending is not None:
            found.add(" ".join(pending[0].split())[:_KEY_LENGTH], pending[1])
            pending = None
        if (match := _DURATION.search(line)) is None:
            continue
        milliseconds, step, text = float(match[1]), match[2], match[3]
        if step.startswith(("parse", "bind")):
            found.add(PARSE_AND_BIND, milliseconds)
        else:
            pending = (text, milliseconds)
    return found


class StatementLog:
    """Every statement's duration logged between `start` and `stop`, from a superuser's connection to the server
    whose log is `log`."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.database_url = database_url
        self.log = log
        self.offset = 0

    async def _set(self, statement: str) -> None:
        connection = await asyncpg.connect(self.database_url)
        try:
            await connection.execute(statement)
            await connection.execute("SELECT pg_reload_conf()")
        finally:
            await connection.close()

    async def start(self) -> None:
        self.offset = self.log.stat().st_size
        await self._set("ALTER SYSTEM SET log_min_duration_statement = 0")

    async def stop(self) -> Totals:
        await self._set("ALTER SYSTEM RESET log_min_duration_statement")
        with self.log.open(errors="replace") as log:
            log.seek(self.offset)
            return totals(log.read().splitlines())
