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

from kampungkb_shared.classification import BatchItem, BatchRequest, BatchResponse
from kampungkb_shared.errors import NotFound
from kampungkb_shared.periods import format_period
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.classifications.client import ClassifierClient, ClassifierUnavailable
from registry_api.classifications.models import Classification
from registry_api.classifications.snapshots import SnapshotRow, assemble, periods_to_classify
from registry_api.kampung.models import Kampung
from registry_api.outbox import events

log = logging.getLogger(__name__)

_UPSERT_CHUNK = 1000

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
) -> Reclassified:
    """Classify every period from each Kampung KB's earliest changed one on, for every rule set; store what changed.

    A snapshot whose hash equals the stored one for a rule set is not sent again.
    """
    pairs = await periods_to_classify(session, earliest=earliest)
    outcome = Reclassified(pairs=pairs)
    if not pairs:
        return outcome
    snapshots = await assemble(session, pairs=pairs)
    stored = await _stored_hashes(session, pairs)
    todo = {
        ruleset: [snap for snap in snapshots if stored.get((snap.kampung_id, snap.period, ruleset)) != snap.hash]
        for ruleset in rulesets
    }
    todo = {ruleset: snaps for ruleset, snaps in todo.items() if snaps}
    calls = [
        classifier.classify_batch(_request(ruleset, snaps), budget_s=budget_s, use_breaker=use_breaker)
        for ruleset, snaps in todo.items()
    ]
    answers = await asyncio.gather(*calls, return_exceptions=True)
    rows: list[dict[str, Any]] = []
    for (ruleset, snaps), answer in zip(todo.items(), answers, strict=True):
        if isinstance(answer, ClassifierUnavailable):
            outcome.failed[ruleset] = str(answer)
            continue
        if isinstance(answer, BaseException):
            raise answer
        rows.extend(_rows(ruleset, snaps, answer))
    for start in range(0, len(rows), _UPSERT_CHUNK):
        await _upsert(session, rows[start : start + _UPSERT_CHUNK])
    outcome.changed = {(row["kampung_id"], row["period"]) for row in rows}
    if any(row["ruleset"] == primary for row in rows):
        await session.execute(_REFRESH_TIER, {"ruleset": primary, "ids": sorted({k for k, _ in outcome.changed})})
    return outcome


def _request(ruleset: str, snaps: list[SnapshotRow]) -> BatchRequest:
    items = [
        BatchItem.model_validate({"id": index, "period": format_period(snap.period), "snapshot": snap.snapshot})
        for index, snap in enumerate(snaps)
    ]
    return BatchRequest(ruleset=ruleset, items=items)


def _rows(ruleset: str, snaps: list[SnapshotRow], answer: BatchResponse) -> list[dict[str, Any]]:
    for error in answer.errors:
        log.error("classifier refused snapshot %s under %s: %s", error.id, ruleset, error.errors)
    rows = []
    for result in answer.results:
        snap = snaps[int(result.id)]
        rows.append(
            {
                "kampung_id": snap.kampung_id,
                "period": snap.period,
                "ruleset": ruleset,
                "ruleset_hash": result.ruleset_hash,
                "tier": result.tier.value,
                "snapshot_hash": snap.hash,
                "result": result.model_dump(mode="json", exclude={"id", "index"}),
                "snapshot": snap.snapshot,
            }
        )
    return rows


async def _stored_hashes(
    session: AsyncSession, pairs: list[tuple[int, dt.date]]
) -> dict[tuple[int, dt.date, str], str]:
    params = {"ids": [k for k, _ in pairs], "periods": [p for _, p in pairs]}
    result = await session.execute(_STORED_HASHES, params)
    return {(row.kampung_id, row.period, row.ruleset): row.snapshot_hash for row in result}


async def _upsert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    statement = insert(Classification).values(rows)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[Classification.kampung_id, Classification.period, Classification.ruleset],
        set_={
            "ruleset_hash": excluded.ruleset_hash,
            "tier": excluded.tier,
            "snapshot_hash": excluded.snapshot_hash,
            "result": excluded.result,
            "snapshot": excluded.snapshot,
            "computed_at": text("now()"),
        },
    )
    await session.execute(statement)


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
