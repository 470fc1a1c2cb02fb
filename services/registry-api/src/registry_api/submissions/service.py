"""Module submissions: the write path (lock, preconditions, rules, revision, classification) and the reads.

Every write to a Kampung KB first locks its row (`SELECT ... FOR NO KEY UPDATE`), so writes to one Kampung KB
serialise: `If-Match` is checked against the committed revision, no revision is lost, and each classification
is computed from a snapshot that includes every earlier write.
"""

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import NotFound, PreconditionFailed
from registry_api import cursors
from registry_api.auth.service import Principal
from registry_api.classifications.client import ClassifierClient
from registry_api.classifications.service import WriteOutcome, classify_after_write, stored_classification
from registry_api.db import session_driver
from registry_api.etags import check_if_match, etag
from registry_api.submissions.models import Submission, SubmissionRevision
from registry_api.submissions.rules import check_cross_module
from registry_api.submissions.schemas import Module, ModulePayload, SubmissionPage, SubmissionRead


def canonical_json(payload: dict[str, object]) -> bytes:
    """A payload's canonical JSON (sorted keys, no spaces): what `content_hash` hashes, on every write path."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def content_hash(canonical: bytes) -> str:
    """The hash that recognises unchanged content: SHA-256 of a payload's `canonical_json`."""
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class LockedKampung:
    """A Kampung KB locked for this transaction's writes: what the write paths need of it."""

    id: int
    desa_code: str
    kabupaten_code: str


_LOCK = "SELECT id, desa_code, kabupaten_code FROM kampung WHERE id = $1 FOR NO KEY UPDATE"
_CURRENT = """
    SELECT revision, content_hash FROM submission WHERE kampung_id = $1 AND module = $2 AND period = $3
"""


async def lock_kampung(session: AsyncSession, kampung_id: int, principal: Principal) -> LockedKampung:
    """The Kampung KB, locked for this transaction's writes; 404 if unknown, 403 outside the key's scope."""
    row = await (await session_driver(session)).fetchrow(_LOCK, kampung_id)
    if row is None:
        raise NotFound(f"no Kampung KB with id {kampung_id}")
    principal.require_kampung(kampung_id=row["id"], desa_code=row["desa_code"])
    return LockedKampung(row["id"], row["desa_code"], row["kabupaten_code"])


# The submission and its revision in one statement: a new one starts at revision 1, a replaced one counts on. The
# Kampung KB is locked, so no other writer can insert the same (Kampung KB, module, period) in between.
_WRITE = """
    WITH s AS (
        INSERT INTO submission AS s (kampung_id, module, period, payload, content_hash, source_hash, revision,
                                     submitted_by, submitted_at)
        VALUES ($1, $2, $3, CAST($4 AS jsonb), $5, NULL, 1, $6, now())
            ON CONFLICT (kampung_id, module, period) DO UPDATE
           SET payload = excluded.payload, content_hash = excluded.content_hash, source_hash = NULL,
               revision = s.revision + 1, submitted_by = excluded.submitted_by, submitted_at = excluded.submitted_at
        RETURNING s.*
    ),
    revision AS (
        INSERT INTO submission_revision (submission_id, revision, payload, submitted_by, submitted_at)
        SELECT id, revision, payload, submitted_by, submitted_at FROM s
    )
    SELECT id, kampung_id, module, period, content_hash, source_hash, revision, submitted_by, submitted_at FROM s
"""


@dataclass
class Written:
    submission: Submission
    created: bool
    outcome: WriteOutcome


async def write_submission(
    session: AsyncSession,
    *,
    kampung_id: int,
    module: Module,
    period: dt.date,
    payload: ModulePayload,
    principal: Principal,
    if_match: str | None,
    if_none_match: str | None,
    classifier: ClassifierClient,
    rulesets: Sequence[str],
    budget_s: float,
) -> Written:
    kampung = await lock_kampung(session, kampung_id, principal)
    driver = await session_driver(session)
    # Read after the lock, in a statement of its own: a lock that waited re-reads only the locked row, so a
    # submission joined to it would be the one from before the other writer's commit.
    current = await driver.fetchrow(_CURRENT, kampung_id, module.value, period)
    data = payload.model_dump(mode="json")
    encoded = canonical_json(data)
    digest = content_hash(encoded)
    if current is not None and current["content_hash"] == digest:
        # The same content again (a retry whose answer was lost): nothing to do, whatever version it was based on.
        same = await _exact(session, kampung_id=kampung_id, module=module, period=period)
        assert same is not None
        stored = await stored_classification(session, kampung_id=kampung_id, period=period, ruleset=rulesets[0])
        return Written(same, created=False, outcome=WriteOutcome(classification=stored, report_event_ids=[]))
    _check_preconditions(current["revision"] if current else None, if_match=if_match, if_none_match=if_none_match)
    await check_cross_module(session, kampung_id=kampung_id, module=module, period=period, payload=payload)
    row = await driver.fetchrow(_WRITE, kampung_id, module.value, period, encoded.decode(), digest, principal.actor)
    submission = Submission(**{**dict(row), "payload": data})  # as stored (not attached to the session)
    outcome = await classify_after_write(
        session,
        classifier=classifier,
        rulesets=rulesets,
        budget_s=budget_s,
        kampung_id=kampung.id,
        kabupaten_code=kampung.kabupaten_code,
        period=period,
    )
    return Written(submission, created=submission.revision == 1, outcome=outcome)


def _check_preconditions(revision: int | None, *, if_match: str | None, if_none_match: str | None) -> None:
    """`revision`: the stored submission's, None when there is none."""
    if revision is None:
        if if_match is not None:
            raise PreconditionFailed(f"If-Match {if_match}: there is no submission for this period yet")
        return
    if if_none_match is not None and (if_none_match.strip() == "*" or etag(revision) in if_none_match):
        raise PreconditionFailed(f"If-None-Match {if_none_match}: a submission exists, at {etag(revision)}")
    check_if_match(if_match, revision)


async def _exact(session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date) -> Submission | None:
    query = select(Submission).where(
        Submission.kampung_id == kampung_id, Submission.module == module, Submission.period == period
    )
    return await session.scalar(query.execution_options(populate_existing=True))


async def get_submission(
    session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date, exact: bool
) -> Submission:
    """The submission in force for the period: the newest at or before it (exactly of it when `exact`)."""
    query = select(Submission).where(Submission.kampung_id == kampung_id, Submission.module == module)
    query = query.where(Submission.period == period) if exact else query.where(Submission.period <= period)
    found = await session.scalar(query.order_by(Submission.period.desc()).limit(1))
    if found is None:
        raise NotFound(f"Kampung KB {kampung_id} has no {module} submission in force for {period:%Y-%m}")
    return found


async def list_revisions(
    session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date
) -> list[SubmissionRevision]:
    """Every revision of the submission of exactly this period, newest first."""
    submission = await _exact(session, kampung_id=kampung_id, module=module, period=period)
    if submission is None:
        raise NotFound(f"Kampung KB {kampung_id} has no {module} submission for {period:%Y-%m}")
    query = (
        select(SubmissionRevision)
        .where(SubmissionRevision.submission_id == submission.id)
        .order_by(SubmissionRevision.revision.desc())
    )
    return list(await session.scalars(query))


def to_read(submission: Submission) -> SubmissionRead:
    return SubmissionRead(
        kampung_id=submission.kampung_id,
        module=Module(submission.module),
        period=f"{submission.period:%Y-%m}",
        payload=submission.payload,
        revision=submission.revision,
        submitted_at=submission.submitted_at,
        submitted_by=submission.submitted_by,
    )


async def list_changed(
    session: AsyncSession,
    *,
    kampung_id: int,
    updated_since: dt.datetime | None,
    module: Module | None,
    limit: int,
    cursor: str | None,
) -> SubmissionPage:
    """The Kampung KB's submissions (their current state) written after `updated_since`, oldest change first."""
    query = select(Submission).where(Submission.kampung_id == kampung_id)
    if updated_since is not None:
        query = query.where(Submission.submitted_at > updated_since)
    if module is not None:
        query = query.where(Submission.module == module)
    if cursor:
        query = query.where(
            tuple_(Submission.submitted_at, Submission.id) > tuple_(*cursors.decode(cursor, dt.datetime.fromisoformat))
        )
    query = query.order_by(Submission.submitted_at, Submission.id).limit(limit + 1)
    rows = list(await session.scalars(query))
    page = rows[:limit]
    next_cursor = cursors.encode(page[-1].submitted_at, page[-1].id) if len(rows) > limit else None
    return SubmissionPage(items=[to_read(s) for s in page], next_cursor=next_cursor)
