"""Classifying what changed: snapshots in force, one batch call per rule set, results stored, `kampung.tier` kept.

Used in the write path (a PUT, a new activity: short budget, result returned) and by the outbox relay
(many Kampung KB at once). Callers hold the Kampung KB rows locked (`FOR NO KEY UPDATE`), so two writers
never store classifications computed from each other's stale snapshots.
"""

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.codes import Tier
from kampungkb_shared.errors import NotFound
from kampungkb_shared.periods import format_period
from registry_api.classifications.client import ClassifierClient, ClassifierUnavailable
from registry_api.classifications.models import Classification
from registry_api.classifications.snapshots import SnapshotRow, assemble, periods_to_classify
from registry_api.kampung.models import Kampung
from registry_api.outbox import events

log = logging.getLogger(__name__)

_UPSERT_CHUNK = 5000
_UPSERT_COLUMNS = ("kampung_id", "period", "ruleset_hash", "tier", "snapshot_hash", "result", "snapshot")
_UPSERT = text("""
    INSERT INTO classification (kampung_id, period, ruleset, ruleset_hash, tier, snapshot_hash, result, snapshot)
    SELECT r.kampung_id, r.period, :ruleset, r.ruleset_hash, r.tier, r.snapshot_hash,
           CAST(r.result AS jsonb), CAST(r.snapshot AS jsonb)
      FROM unnest(CAST(:kampung_id AS bigint[]), CAST(:period AS date[]), CAST(:ruleset_hash AS text[]),
                  CAST(:tier AS text[]), CAST(:snapshot_hash AS text[]), CAST(:result AS text[]),
                  CAST(:snapshot AS text[]))
           AS r(kampung_id, period, ruleset_hash, tier, snapshot_hash, result, snapshot)
        ON CONFLICT (kampung_id, period, ruleset) DO UPDATE
       SET ruleset_hash = excluded.ruleset_hash, tier = excluded.tier, snapshot_hash = excluded.snapshot_hash,
           result = excluded.result, snapshot = excluded.snapshot, computed_at = now()
""")

_STORED_HASHES = text("""
    SELECT c.kampung_id, c.period, c.ruleset, c.snapshot_hash
      FROM unnest(CAST(:ids AS bigint[]), CAST(:periods AS date[])) AS p(kampung_id, period)
      JOIN classification c ON c.kampung_id = p.kampung_id AND c.period = p.period
""")

_REFRESH_TIER = text("""
    UPDATE kampung k SET tier = newest.tier
      FROM (SELECT DISTINCT ON (kampung_id) kampung_id, tier FROM classification
             WHERE ruleset = :ruleset AND kampung_id = ANY(CAST(:ids AS bigint[]))
             ORDER BY kampung_id, period DESC) AS newest
     WHERE k.id = newest.kampung_id AND k.tier IS DISTINCT FROM newest.tier
""")


@dataclass
class Reclassified:
    """What a reclassification covered, what it changed, and which rule sets could not be reached."""

    pairs: list[tuple[int, dt.date]]
    changed: set[tuple[int, dt.date]] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    """Rule set -> why its call failed."""


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
) -> Reclassified:
    """Classify every period from each Kampung KB's earliest changed one on, for every rule set; store what changed.

    A snapshot whose hash equals the stored one for a rule set is not sent again. Snapshots go out in batch calls of
    at most `chunk` items, `concurrency` calls at a time (`budget_s` each); answers are stored as they arrive. After
    the first failed call the remaining calls of that rule set are not made.
    """
    pairs = await periods_to_classify(session, earliest=earliest)
    outcome = Reclassified(pairs=pairs)
    if not pairs:
        return outcome
    snapshots = await assemble(session, pairs=pairs)
    stored = await _stored_hashes(session, pairs)
    batches = [
        (ruleset, todo[start : start + chunk])
        for ruleset in rulesets
        if (todo := [snap for snap in snapshots if stored.get((snap.kampung_id, snap.period, ruleset)) != snap.hash])
        for start in range(0, len(todo), chunk)
    ]
    gate = asyncio.Semaphore(max(1, concurrency))

    async def call(ruleset: str, snaps: list[SnapshotRow]) -> tuple[str, list[SnapshotRow], dict[str, Any] | None]:
        async with gate:
            if ruleset in outcome.failed:
                return ruleset, snaps, None
            try:
                answer = await classifier.classify_batch_raw(
                    _request_body(ruleset, snaps), budget_s=budget_s, use_breaker=use_breaker
                )
            except ClassifierUnavailable as exc:
                outcome.failed.setdefault(ruleset, str(exc))
                return ruleset, snaps, None
            return ruleset, snaps, answer

    tasks = [asyncio.ensure_future(call(ruleset, snaps)) for ruleset, snaps in batches]
    primary_stored = False
    try:
        for next_done in asyncio.as_completed(tasks):
            ruleset, snaps, answer = await next_done
            if answer is None:
                continue
            try:
                changed = await _store(session, ruleset, snaps, answer)
            except ClassifierUnavailable as exc:
                outcome.failed.setdefault(ruleset, str(exc))
                continue
            outcome.changed.update(changed)
            primary_stored = primary_stored or (ruleset == primary and bool(changed))
    finally:
        for task in tasks:
            task.cancel()
    if primary_stored:
        await session.execute(_REFRESH_TIER, {"ruleset": primary, "ids": sorted({k for k, _ in outcome.changed})})
    return outcome


def _request_body(ruleset: str, snaps: list[SnapshotRow]) -> bytes:
    # The snapshots are JSON text from PostgreSQL already: the body is assembled, not serialised again.
    items = ",".join(
        f'{{"id":{index},"period":"{format_period(snap.period)}","snapshot":{snap.snapshot}}}'
        for index, snap in enumerate(snaps)
    )
    return f'{{"ruleset":{orjson.dumps(ruleset).decode()},"items":[{items}]}}'.encode()


async def _store(
    session: AsyncSession, ruleset: str, snaps: list[SnapshotRow], answer: dict[str, Any]
) -> set[tuple[int, dt.date]]:
    """Upsert the results of one batch answer in set-based statements; returns the (Kampung KB, period) stored."""
    for error in answer["errors"]:
        log.error("classifier refused snapshot %s under %s: %s", error.get("id"), ruleset, error.get("errors"))
    columns: dict[str, list[Any]] = {name: [] for name in _UPSERT_COLUMNS}
    for result in answer["results"]:
        try:
            snap = snaps[int(result.pop("id"))]
            result.pop("index", None)
            tier = Tier(result["tier"]).value
            ruleset_hash = str(result["ruleset_hash"])
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ClassifierUnavailable(f"the classifier's answer did not match the contract: {exc!r}") from exc
        for name, value in zip(
            _UPSERT_COLUMNS,
            (snap.kampung_id, snap.period, ruleset_hash, tier, snap.hash, orjson.dumps(result).decode(), snap.snapshot),
            strict=True,
        ):
            columns[name].append(value)
    count = len(columns["kampung_id"])
    for start in range(0, count, _UPSERT_CHUNK):
        params = {name: values[start : start + _UPSERT_CHUNK] for name, values in columns.items()}
        await session.execute(_UPSERT, {**params, "ruleset": ruleset})
    return set(zip(columns["kampung_id"], columns["period"], strict=True))


async def _stored_hashes(
    session: AsyncSession, pairs: list[tuple[int, dt.date]]
) -> dict[tuple[int, dt.date, str], str]:
    params = {"ids": [k for k, _ in pairs], "periods": [p for _, p in pairs]}
    result = await session.execute(_STORED_HASHES, params)
    return {(row.kampung_id, row.period, row.ruleset): row.snapshot_hash for row in result}


@dataclass
class WriteOutcome:
    """The write path's classification of the written period (None: pending) and the report events it queued."""

    classification: Classification | None
    report_event_ids: list[int]


async def classify_after_write(
    session: AsyncSession,
    *,
    classifier: ClassifierClient,
    rulesets: Sequence[str],
    budget_s: float,
    kampung: Kampung,
    period: dt.date,
) -> WriteOutcome:
    """After a write that changes `period` (and so every later one): classify, or leave a `classify` event pending.

    Also writes the `report` events for every period whose aggregates change.
    """
    primary = rulesets[0]
    outcome = await reclassify(
        session,
        classifier=classifier,
        rulesets=rulesets,
        primary=primary,
        earliest={kampung.id: period},
        budget_s=budget_s,
        use_breaker=True,
    )
    if outcome.failed:
        await events.add_classify(session, kampung_id=kampung.id, period=period)
    report_ids = await events.add_reports(session, changes={(p, kampung.kabupaten_code) for _, p in outcome.pairs})
    classification = None
    if primary not in outcome.failed:
        classification = await stored_classification(session, kampung_id=kampung.id, period=period, ruleset=primary)
    return WriteOutcome(classification=classification, report_event_ids=report_ids)


async def stored_classification(
    session: AsyncSession, *, kampung_id: int, period: dt.date, ruleset: str
) -> Classification | None:
    """The classification of exactly this period, if stored."""
    query = select(Classification).where(
        Classification.kampung_id == kampung_id, Classification.period == period, Classification.ruleset == ruleset
    )
    return await session.scalar(query.execution_options(populate_existing=True))


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
