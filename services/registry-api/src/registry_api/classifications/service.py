"""The classification engine: snapshots in force, batch calls covering every rule set, results stored.

It computes and stores, nothing else: the change pipeline (`registry_api.changes.pipeline`) is its only caller and
does what follows (the tier on the profile, events). Callers hold the Kampung KB rows locked (`FOR NO KEY UPDATE`),
so two writers never store classifications computed from each other's stale snapshots.
"""

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, overload

import asyncpg
import orjson
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.classification import Indices, Passed, Scores, Snapshot
from kampungkb_shared.errors import NotFound
from kampungkb_shared.periods import format_period
from kampungkb_shared.result_rows import RESULT_COLUMNS, error_row, result_row
from registry_api.classifications.client import ClassifierClient, ClassifierUnavailable, batch_items
from registry_api.classifications.explanations import explain, ruleset_contents
from registry_api.classifications.models import Classification
from registry_api.classifications.schemas import ClassificationRead, ClassificationSummary
from registry_api.classifications.snapshots import SnapshotRow, assemble, periods_to_classify
from registry_api.db import session_driver

log = logging.getLogger(__name__)


_AT = {column: position for position, column in enumerate(RESULT_COLUMNS, start=1)}


def _cells(model: type[BaseModel], prefix: str = "") -> str:
    """The slice of a record's fields (`f`) holding a model's fields, in order."""
    names = [f"{prefix}{name}" for name in model.model_fields]
    assert [_AT[name] for name in names] == list(range(_AT[names[0]], _AT[names[-1]] + 1))
    return f"f[{_AT[names[0]]}:{_AT[names[-1]]}]"


# One statement per classifier answer: its CSV records (`kampungkb_shared.result_rows`, refused items left out) go in
# as text and are split on commas, once each (`raw` is MATERIALIZED: inlined, every field read would split the record
# again: 17 % of the statement on 10,000 results): with integer ids, the record of a result holds no quote. Each
# stored row's Kampung KB is read by its key (`OFFSET 0` keeps the lookup per row: joined, a batch of 5,000 hashed the
# whole `kampung` table, 24 ms a call). An empty field is NULL;
# a record of another length, or whose fields are not what they should be, fails the statement. Only results are
# stored, never their explanation (raw measures, missing data, next tier), which is derived again on read
# (`classifications.explanations`).
# The same statement keeps each rule set's content by its hash (where it sees no copy yet) and writes the feed's row
# of every classification it stored, in (Kampung KB, period, rule set) order: no trigger, no second statement. It
# answers, with each classification stored, whether its tier differs from the one the profile shows (`retiers`).
_UPSERT = f"""
    WITH raw AS MATERIALIZED (
        SELECT string_to_array(r.text, ',', '') AS f FROM unnest(CAST($1 AS text[])) AS r(text)
    ),
    answer AS (
        SELECT CAST(CASE WHEN cardinality(f) = {len(RESULT_COLUMNS)} THEN f[{_AT["id"]}] ELSE 'a malformed record' END
                    AS integer) AS id,
               f[{_AT["ruleset"]}] AS ruleset, f[{_AT["ruleset_hash"]}] AS ruleset_hash, f[{_AT["tier"]}] AS tier,
               CAST({_cells(Scores)} AS smallint[]) AS scores,
               CAST({_cells(Indices, "index_")} AS numeric[]) AS indices,
               CAST({_cells(Passed, "passed_")} AS boolean[]) AS passed
          FROM raw
    ),
    written AS (
        INSERT INTO classification AS c
               (kampung_id, period, ruleset, ruleset_hash, tier, snapshot_hash, scores, indices, passed)
        SELECT s.kampung_id, s.period, a.ruleset, a.ruleset_hash, a.tier, s.hash, a.scores, a.indices, a.passed
          FROM answer a
          JOIN unnest(CAST($2 AS bigint[]), CAST($3 AS date[]), CAST($4 AS text[]))
               WITH ORDINALITY AS s(kampung_id, period, hash, id) ON s.id = a.id + 1
           AND a.ruleset = ANY(CAST($5 AS text[]))
            ON CONFLICT (kampung_id, period, ruleset) DO UPDATE
           SET ruleset_hash = excluded.ruleset_hash, tier = excluded.tier, snapshot_hash = excluded.snapshot_hash,
               scores = excluded.scores, indices = excluded.indices, passed = excluded.passed, computed_at = now()
        RETURNING c.kampung_id, c.period, c.ruleset, c.tier, c.computed_at
    ),
    kept AS (
        INSERT INTO ruleset_content (hash, name, content)
        SELECT k.hash, k.name, CAST(k.content AS jsonb)
          FROM unnest(CAST($6 AS text[]), CAST($7 AS text[]), CAST($8 AS text[])) AS k(hash, name, content)
         WHERE NOT EXISTS (SELECT 1 FROM ruleset_content r WHERE r.hash = k.hash)
    ),
    shown AS (
        SELECT w.kampung_id, w.period, w.ruleset, w.tier, w.computed_at, k.desa_code, k.tier AS profile_tier
          FROM written w
         CROSS JOIN LATERAL (SELECT k.desa_code, k.tier FROM kampung k WHERE k.id = w.kampung_id OFFSET 0) k
    ),
    feed AS (
        INSERT INTO change_log (kind, action, kampung_id, desa_code, period, ruleset, tier)
        SELECT 'classification', 'classified', kampung_id, desa_code, period, ruleset, tier
          FROM shown ORDER BY kampung_id, period, ruleset
    )
    SELECT kampung_id, period, ruleset, tier, computed_at, tier IS DISTINCT FROM profile_tier AS retiers FROM shown
"""

KEPT_ANSWERS = 16
"""A call of at most this many results (a write's) asks for their explanation and keeps them parsed
(`Reclassified.answers`); larger ones ask for results without it, which is all the classification table stores."""


class _Stored(NamedTuple):
    """A classification an answer stored, and whether its tier differs from the one the profile shows."""

    kampung_id: int
    period: dt.date
    ruleset: str
    tier: str
    computed_at: dt.datetime
    retiers: bool


@dataclass(frozen=True)
class Answer:
    """The classifier's result for a snapshot (with its explanation, unless the write asked for none), as stored a
    moment ago: a write's answer is the classifier's own, with no read of what was just stored and nothing derived
    again."""

    result: dict[str, Any]
    snapshot: SnapshotRow
    computed_at: dt.datetime

    def summary(self) -> ClassificationSummary:
        """The result without its explanation and snapshot (`Prefer: return=minimal`), which a short result has too:
        the summary's fields of it."""
        return ClassificationSummary.model_validate(self.result)

    def read(self) -> ClassificationRead:
        return ClassificationRead.model_validate(
            {
                **self.result,
                "kampung_id": self.snapshot.kampung_id,
                "computed_at": self.computed_at,
                "snapshot_hash": self.snapshot.hash,
                "snapshot": Snapshot.model_validate_json(self.snapshot.snapshot),
            }
        )


Call = tuple[tuple[str, ...], list[SnapshotRow]]
"""One classifier call: the rule sets it asks for and the snapshots it sends."""


@dataclass
class Reclassified:
    """What a reclassification covered, what it changed, and which rule sets could not be reached."""

    pairs: list[tuple[int, dt.date]]
    """Every (Kampung KB, period) it covered, in that order."""
    moved: set[tuple[int, dt.date]] = field(default_factory=set)
    """The pairs whose snapshot differs from the one some rule set's stored classification saw: sent to the classifier
    (whether it answered or not)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Rule set -> why its call failed."""
    tiers: dict[int, str] = field(default_factory=dict)
    """The primary rule set's tier of each Kampung KB's newest period, where it was just stored and differs from the
    tier its profile shows."""
    answers: dict[tuple[int, dt.date, str], Answer] = field(default_factory=dict)
    """(Kampung KB, period, rule set) -> the classifier's result with its explanation, for the calls of at most
    `KEPT_ANSWERS` results (a write's) and what they stored."""


async def reclassify(
    session: AsyncSession,
    *,
    classifier: ClassifierClient,
    rulesets: Sequence[str],
    primary: str,
    earliest: dict[int, dt.date],
    budget_s: float,
    use_breaker: bool = False,
    chunk: int = 10_000,
    concurrency: int = 2,
    attempt_timeout_s: float | None = None,
    explain: bool = True,
) -> Reclassified:
    """Classify every period from each Kampung KB's earliest changed one on, for every rule set; store what changed.

    A snapshot whose hash equals the stored one for a rule set is not sent again; one that some rule sets lack goes
    out once, for all of them. Snapshots are assembled a slice at a time and go out in batch calls of at most `chunk`
    results (items times rule sets), `concurrency` calls at a time, each with `budget_s` in all and
    `attempt_timeout_s` per attempt; answers are stored as they arrive. After the first failed call the remaining
    calls for that rule set are not made. The results of a small call (a write's) are kept (`Reclassified.answers`),
    with their explanation unless `explain` is false.
    """
    outcome = Reclassified(pairs=[])
    if not earliest:
        return outcome
    unknown = [ruleset for ruleset in rulesets if not classifier.knows(ruleset)]
    if unknown and not (use_breaker and classifier.breaker_open):
        # Each rule set's content is kept with the first results under its hash: fetched now, while the classifier is
        # idle, rather than between the answers of a large run, when it is busy scoring the next batch. A classifier
        # that cannot serve them will not score either: their calls are not made, and the budget is spent once.
        try:
            await classifier.fetch_contents(unknown, budget_s=budget_s)
        except ClassifierUnavailable as exc:
            outcome.failed.update(dict.fromkeys(unknown, str(exc)))
    # The months a partner leaves a rule set's window change its results with no new data: classified too.
    windows = classifier.partner_windows(rulesets)
    outcome.pairs = pairs = await periods_to_classify(session, earliest=earliest, windows=windows)
    if not pairs:
        return outcome
    gate = asyncio.Semaphore(max(1, concurrency))

    def give_up(todo: tuple[str, ...], exc: ClassifierUnavailable) -> None:
        for ruleset in todo:
            outcome.failed.setdefault(ruleset, str(exc))

    async def call(todo: tuple[str, ...], snaps: list[SnapshotRow]) -> tuple[Call, list[bytes] | None]:
        async with gate:
            if any(ruleset in outcome.failed for ruleset in todo):
                return (todo, snaps), None
            try:
                lines = await classifier.classify_lines(
                    _request_body(todo, snaps, explain=explain and _kept(todo, snaps)),
                    rows=not _kept(todo, snaps),
                    budget_s=budget_s,
                    use_breaker=use_breaker,
                    attempt_timeout_s=attempt_timeout_s,
                )
            except ClassifierUnavailable as exc:
                give_up(todo, exc)
                return (todo, snaps), None
            return (todo, snaps), lines

    newest = {kampung_id: period for kampung_id, period in pairs}  # pairs are in period order

    async def store(task: asyncio.Future[tuple[Call, list[bytes] | None]]) -> None:
        (todo, snaps), lines = task.result()
        if lines is None:
            return
        kept = _kept(todo, snaps)
        try:
            # A kept answer is NDJSON, its results with their explanation; a bulk one CSV records already.
            answers, records = _answers(lines) if kept else ([], lines)
            stored_rows = await _store(session, classifier, todo, snaps, records, budget_s)
        except ClassifierUnavailable as exc:
            give_up(todo, exc)
            return
        if kept:
            stored = {(row.kampung_id, row.period, row.ruleset): row for row in stored_rows}
            for answer in answers:
                if "result" in answer:
                    snap = snaps[answer["id"]]
                    key = (snap.kampung_id, snap.period, answer["ruleset"])
                    if (row := stored.get(key)) is not None:
                        outcome.answers[key] = Answer(answer["result"], snap, row.computed_at)
        for row in stored_rows:
            if row.retiers and row.ruleset == primary and row.period == newest[row.kampung_id]:
                outcome.tiers[row.kampung_id] = row.tier

    in_flight: set[asyncio.Future[tuple[Call, list[bytes] | None]]] = set()

    async def settle(keep: int) -> None:
        """Store every answer that has arrived, waiting for more while over `keep` calls are still out."""
        nonlocal in_flight
        while len(in_flight) > keep or any(task.done() for task in in_flight):
            done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                await store(task)

    # A slice of snapshots is assembled while the classifier works on the one before, and answers are stored as
    # they arrive; at most `concurrency` calls wait beyond the ones running, so snapshots are not all held at once.
    per_slice = max(1, chunk // len(rulesets))
    try:
        for start in range(0, len(pairs), per_slice):
            for todo, snaps in await _calls(session, pairs[start : start + per_slice], rulesets, chunk):
                outcome.moved.update((snap.kampung_id, snap.period) for snap in snaps)
                in_flight.add(asyncio.ensure_future(call(todo, snaps)))
            await settle(keep=2 * concurrency)
        await settle(keep=0)
    finally:
        for task in in_flight:
            task.cancel()
    return outcome


async def _calls(
    session: AsyncSession, pairs: list[tuple[int, dt.date]], rulesets: Sequence[str], chunk: int
) -> list[Call]:
    """The snapshots of `pairs` (assembled and stored), each going out once with the rule sets that have not
    classified it yet (usually all of them), in calls of at most `chunk` results."""
    wanted: dict[tuple[str, ...], list[SnapshotRow]] = defaultdict(list)
    for snap in await assemble(session, pairs=pairs):
        if todo := tuple(r for r in rulesets if r not in snap.classified):
            wanted[todo].append(snap)
    return [
        (todo, snaps[start : start + per_call])
        for todo, snaps in wanted.items()
        for per_call in [max(1, chunk // len(todo))]
        for start in range(0, len(snaps), per_call)
    ]


def _answers(lines: list[bytes]) -> tuple[list[dict[str, Any]], list[bytes]]:
    """A kept call's NDJSON answer, line by line, and its lines as CSV records; `ClassifierUnavailable` for an answer
    that breaks the contract: the write then goes on as when the classifier is away (pending, and the relay asks
    again), never failing for it."""
    try:
        answers = [orjson.loads(line) for line in lines]
        return answers, [_record(answer) for answer in answers]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise ClassifierUnavailable(f"the classifier's answer did not match the contract: {exc!r:.200}") from exc


def _record(answer: dict[str, Any]) -> bytes:
    """An NDJSON answer's line (a kept call's) as the CSV record a bulk call gets for it."""
    if "result" in answer:
        return result_row(answer["id"], answer["index"], answer["result"])
    return error_row(answer.get("id"), answer["index"], answer["errors"])


def _kept(rulesets: tuple[str, ...], snaps: list[SnapshotRow]) -> bool:
    """Whether a call's results are kept with their explanation (see `KEPT_ANSWERS`)."""
    return len(rulesets) * len(snaps) <= KEPT_ANSWERS


def _request_body(rulesets: tuple[str, ...], snaps: list[SnapshotRow], *, explain: bool) -> bytes:
    # The snapshots are JSON text from PostgreSQL already: the body is assembled, not serialised again. An item's
    # `id` is its index in `snaps`, which is how `_store` finds the snapshot of each answer line.
    items = batch_items((index, snap.period, snap.snapshot) for index, snap in enumerate(snaps))
    head = f'{{"rulesets":{orjson.dumps(list(rulesets)).decode()},"explain":{"true" if explain else "false"}'
    return f'{head},"items":[{items}]}}'.encode()


def _answer_hashes(records: list[bytes]) -> dict[str, str]:
    """Rule set -> the content hash it was scored with, read from the first records that name each.

    One answer comes from one classifier process: every result of a rule set in it names the same hash.
    """
    hashes: dict[str, str] = {}
    for record in records:
        _, _, ruleset, ruleset_hash, _ = record.decode().split(",", 4)
        if ruleset in hashes:  # the next item: results run item by item, each in rule set order
            break
        hashes[ruleset] = ruleset_hash
    return hashes


def _refused(record: bytes) -> bool:
    """Whether a record is a refused item's: a result's ends with its empty `errors`."""
    return not record.endswith(b",")


async def _store(
    session: AsyncSession,
    classifier: ClassifierClient,
    rulesets: tuple[str, ...],
    snaps: list[SnapshotRow],
    records: list[bytes],
    budget_s: float,
) -> list[_Stored]:
    """Upsert the results of one answer (its CSV records) in one statement; returns what it stored.

    Raises `ClassifierUnavailable` when the answer cannot be stored (a malformed record, an unknown tier, a rule set
    content that cannot be kept): nothing of it is.
    """
    if any(_refused(record) for record in records):
        for record in records:
            if _refused(record):
                log.error("classifier refused a snapshot under %s: %.500s", ",".join(rulesets), record)
        records = [record for record in records if not _refused(record)]
    try:
        hashes = _answer_hashes(records)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ClassifierUnavailable(f"the classifier's answer did not match the contract: {exc}") from exc
    kept = await ruleset_contents(
        session, classifier=classifier, wanted={h: r for r, h in hashes.items()}, budget_s=budget_s
    )
    driver = await session_driver(session)
    # A savepoint of our own (not the session's): an answer that cannot be stored leaves the write's transaction whole.
    # Once the answer is stored, the savepoint ends with the transaction: a release would be one more round trip.
    await driver.execute("SAVEPOINT store_answer")
    try:
        rows = await driver.fetch(
            _UPSERT,
            [record.decode() for record in records],
            [snap.kampung_id for snap in snaps],
            [snap.period for snap in snaps],
            [snap.hash for snap in snaps],
            list(rulesets),
            list(hashes.values()),
            list(hashes),
            [kept[h] for h in hashes.values()],
        )
    except asyncpg.PostgresError as exc:
        await driver.execute("ROLLBACK TO SAVEPOINT store_answer; RELEASE SAVEPOINT store_answer")
        log.error("classifier answer not stored: %s", exc)
        raise ClassifierUnavailable(f"the classifier's answer did not match the contract: {exc}") from exc
    return [_Stored(*row) for row in rows]


@overload
async def stored_classification(
    session: AsyncSession,
    *,
    classifier: ClassifierClient,
    kampung_id: int,
    period: dt.date,
    ruleset: str,
    explanation: Literal[True] = True,
) -> ClassificationRead | None: ...


@overload
async def stored_classification(
    session: AsyncSession,
    *,
    classifier: ClassifierClient,
    kampung_id: int,
    period: dt.date,
    ruleset: str,
    explanation: bool,
) -> ClassificationRead | ClassificationSummary | None: ...


async def stored_classification(
    session: AsyncSession,
    *,
    classifier: ClassifierClient,
    kampung_id: int,
    period: dt.date,
    ruleset: str,
    explanation: bool = True,
) -> ClassificationRead | ClassificationSummary | None:
    """The classification of exactly this period with the snapshot it saw and its explanation derived again, if
    stored; None too when the classifier cannot derive it now. Without `explanation`, its summary, read from its row
    alone: the classifier is not asked. (A write that just classified it answers the classifier's own result
    instead: `Reclassified.answers`.)"""
    row = await session.get(
        Classification, {"kampung_id": kampung_id, "ruleset": ruleset, "period": period}, populate_existing=True
    )
    if row is None:
        return None
    if not explanation:
        return ClassificationSummary.stored(row)
    try:
        [read] = await explain(session, classifier=classifier, rows=[row])
    except ClassifierUnavailable:
        return None
    return read


async def classification_as_of(
    session: AsyncSession, *, kampung_id: int, period: dt.date | None, ruleset: str
) -> Classification:
    """The newest classification at or before `period` (the latest without one); 404 when there is none."""
    query = (
        select(Classification)
        .where(Classification.kampung_id == kampung_id, Classification.ruleset == ruleset)
        .order_by(Classification.period.desc())
        .limit(1)
    )
    if period is not None:
        query = query.where(Classification.period <= period)
    found = await session.scalar(query)
    if found is None:
        as_of = f" as of {format_period(period)}" if period else ""
        raise NotFound(f"Kampung KB {kampung_id} has no classification under {ruleset}{as_of}")
    return found


async def classifications_as_of(
    session: AsyncSession, *, kampung_ids: list[int], period: dt.date, ruleset: str
) -> dict[int, Classification]:
    """The newest classification at or before `period` of each of the Kampung KB (with its snapshot), in one
    statement."""
    query = (
        select(Classification)
        .where(
            Classification.kampung_id.in_(kampung_ids),
            Classification.ruleset == ruleset,
            Classification.period <= period,
        )
        .order_by(Classification.kampung_id, Classification.period.desc())
        .ext(distinct_on(Classification.kampung_id))
    )
    return {row.kampung_id: row for row in await session.scalars(query)}
