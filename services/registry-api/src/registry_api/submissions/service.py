"""Module submissions: the write path (lock, preconditions, rules, revision, classification) and the reads.

Every write to a Kampung KB first locks its row (`SELECT ... FOR NO KEY UPDATE`), so writes to one Kampung KB
serialise: `If-Match` is checked against the committed revision, no revision is lost, and each classification
is computed from a snapshot that includes every earlier write.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.closing import Closing
from kampungkb_shared.errors import NotFound, PreconditionFailed
from registry_api import cursors
from registry_api.approvals.service import refuse_approved
from registry_api.auth.service import Principal
from registry_api.changes import pipeline
from registry_api.classifications.schemas import ClassificationRead, ClassificationSummary
from registry_api.classifications.service import stored_classification
from registry_api.db import session_driver
from registry_api.etags import check_if_match, etag, matches
from registry_api.submissions import store
from registry_api.submissions.models import Submission, SubmissionRevision
from registry_api.submissions.rules import check_cross_module
from registry_api.submissions.schemas import Module, ModulePayload, SubmissionPage, SubmissionRead

_CURRENT = """
    SELECT module, revision, content_hash FROM submission
     WHERE kampung_id = $1 AND module = ANY(CAST($2 AS text[])) AND period = $3
"""


async def lock_kampung(session: AsyncSession, kampung_id: int, principal: Principal) -> pipeline.Locked:
    """The Kampung KB, locked for this transaction's writes; 404 if unknown, 403 outside the key's scope. The rest of
    the transaction, a write of this one Kampung KB, runs on generic plans (`db.plan_once`)."""
    kampung = (await pipeline.lock(session, [kampung_id], generic_plans=True)).get(kampung_id)
    if kampung is None:
        raise NotFound(f"no Kampung KB with id {kampung_id}")
    principal.require_kampung(kampung_id=kampung.id, desa_code=kampung.desa_code)
    return kampung


@dataclass
class Written:
    """A write's answer: every module of the set as stored, those new (revision 1), and the period's classification
    under the primary rule set (None: pending)."""

    submissions: dict[Module, SubmissionRead]
    created: set[Module]
    classification: ClassificationRead | ClassificationSummary | None


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
    classifying: pipeline.Classifying,
    closing: Closing,
) -> Written:
    """One module's write: `write_submissions` with a set of one, errors located in the body itself."""
    return await write_submissions(
        session,
        kampung_id=kampung_id,
        period=period,
        payloads={module: payload},
        principal=principal,
        if_match={module: if_match},
        if_none_match={module: if_none_match},
        classifying=classifying,
        closing=closing,
        nested=False,
    )


async def write_submissions(
    session: AsyncSession,
    *,
    kampung_id: int,
    period: dt.date,
    payloads: Mapping[Module, ModulePayload],
    principal: Principal,
    if_match: Mapping[Module, str | None],
    if_none_match: Mapping[Module, str | None],
    classifying: pipeline.Classifying,
    closing: Closing,
    nested: bool = True,
) -> Written:
    """Write one to three modules of a period in one statement: a revision per changed module, the rules across
    modules checked against the new set as a whole, one classification. `nested`: errors are located under the
    module (`body.kkbpk.kb_users`) rather than at the body's root."""
    kampung = await lock_kampung(session, kampung_id, principal)
    driver = await session_driver(session)
    # Read after the lock, in a statement of its own: a lock that waited re-reads only the locked row, so a
    # submission joined to it would be the one from before the other writer's commit.
    modules = sorted(payloads, key=_ORDER.index)
    current = {
        row["module"]: row for row in await driver.fetch(_CURRENT, kampung_id, [m.value for m in modules], period)
    }
    rows: list[store.Row] = []
    data = {module: payloads[module].model_dump(mode="json") for module in modules}
    for module in modules:
        encoded = store.canonical_json(data[module])  # the JSON-mode dump the answer needs anyway: one dump
        digest = store.content_hash(encoded)
        stored = current.get(module.value)
        if stored is not None and stored["content_hash"] == digest:
            # The same content again (a retry whose answer was lost): nothing to do, whatever version it was based on.
            continue
        await _check_preconditions(
            session,
            kampung_id=kampung_id,
            module=module,
            period=period,
            revision=stored["revision"] if stored else None,
            if_match=if_match.get(module),
            if_none_match=if_none_match.get(module),
        )
        rows.append(store.Row(kampung.id, module.value, period, encoded.decode(), digest))
    if rows:
        await refuse_approved(session, kampung_ids=[kampung.id], periods=[period], principal=principal, closing=closing)
    if not rows:
        stored_now = await stored_classification(
            session,
            classifier=classifying.classifier,
            kampung_id=kampung_id,
            period=period,
            ruleset=classifying.primary,
            explanation=classifying.explain,
        )
        return Written(await _as_stored(session, kampung_id, period, modules), set(), stored_now)
    written = await store.write(driver, rows, actor=principal.actor)
    changed = {Module(row.module): payloads[Module(row.module)] for row in rows}
    await check_cross_module(session, kampung_id=kampung_id, period=period, payloads=changed, nested=nested)
    change = pipeline.Change(kabupaten={kampung.id: kampung.kabupaten_code}, written_at={kampung.id: period})
    recorded = await pipeline.record(session, change, classifying=classifying)
    classification = await classification_written(session, recorded, kampung_id=kampung_id, period=period)
    # As stored: what the write returned, with the payload it wrote (not read again); unchanged modules are read.
    submissions = {Module(r["module"]): _written_read(r, data[Module(r["module"])]) for r in written}
    unchanged = [module for module in modules if module not in submissions]
    submissions |= await _as_stored(session, kampung_id, period, unchanged)
    return Written(
        {module: submissions[module] for module in modules},
        {Module(r["module"]) for r in written if r["revision"] == 1},
        classification,
    )


_ORDER = [Module.PROFIL, Module.KEPENDUDUKAN, Module.KKBPK]


async def _as_stored(
    session: AsyncSession, kampung_id: int, period: dt.date, modules: list[Module]
) -> dict[Module, SubmissionRead]:
    found = {}
    for module in modules:
        submission = await _exact(session, kampung_id=kampung_id, module=module, period=period)
        assert submission is not None
        found[module] = to_read(submission)
    return found


def _written_read(row: Mapping[str, Any], payload: dict[str, Any]) -> SubmissionRead:
    """A submission as the write returned it (`store.write`'s row) with the payload it wrote."""
    return SubmissionRead(
        kampung_id=row["kampung_id"],
        module=Module(row["module"]),
        period=f"{row['period']:%Y-%m}",
        payload=payload,
        revision=row["revision"],
        submitted_at=row["submitted_at"],
        submitted_by=row["submitted_by"],
    )


async def classification_written(
    session: AsyncSession, recorded: pipeline.Recorded, *, kampung_id: int, period: dt.date
) -> ClassificationRead | ClassificationSummary | None:
    """A write's answer: the period's classification under the primary rule set (its summary when the write asked
    for no explanation), None when it is pending."""
    if recorded.classifying is None or recorded.classifying.primary in recorded.failed:
        return None
    primary = recorded.classifying.primary
    if (answer := recorded.answers.get((kampung_id, period, primary))) is not None:
        return answer.read() if recorded.classifying.explain else answer.summary()
    return await stored_classification(
        session,
        classifier=recorded.classifying.classifier,
        kampung_id=kampung_id,
        period=period,
        ruleset=primary,
        explanation=recorded.classifying.explain,
    )


async def _check_preconditions(
    session: AsyncSession,
    *,
    kampung_id: int,
    module: Module,
    period: dt.date,
    revision: int | None,
    if_match: str | None,
    if_none_match: str | None,
) -> None:
    """`revision`: the stored submission's, None when there is none. A 412 carries the current `ETag` and, in
    `current`, the stored submission, so that a client merges without another read."""
    if revision is None:
        if if_match is not None:
            await _check_carried(session, kampung_id=kampung_id, module=module, period=period, if_match=if_match)
        return
    try:
        if if_none_match is not None and (if_none_match.strip() == "*" or etag(revision) in if_none_match):
            raise PreconditionFailed(
                f"If-None-Match {if_none_match}: a {module} submission exists, at {etag(revision)}"
            )
        check_if_match(if_match, revision)
    except PreconditionFailed as exc:
        stored = await _exact(session, kampung_id=kampung_id, module=module, period=period)
        assert stored is not None
        raise PreconditionFailed(
            exc.detail, headers={"ETag": etag(revision)}, current=to_read(stored).model_dump(mode="json")
        ) from None


async def _check_carried(
    session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date, if_match: str
) -> None:
    """`If-Match` on a period with no submission of its own: it holds when it names the submission in force for the
    period, an earlier month's carried forward, as `GET` served it (`in_force_etag`); a 412 otherwise, with that
    submission as `current` when there is one."""
    carried = await _newest_at_or_before(session, kampung_id=kampung_id, module=module, period=period)
    if carried is None:
        raise PreconditionFailed(f"If-Match {if_match}: there is no {module} submission in force for this period yet")
    tag = in_force_etag(carried, period)
    if not matches(if_match, tag):
        raise PreconditionFailed(
            f"If-Match {if_match}: the {module} submission in force for this period is {carried.period:%Y-%m}'s, at "
            f"{tag}",
            headers={"ETag": tag},
            current=to_read(carried).model_dump(mode="json"),
        )


def in_force_etag(submission: Submission, period: dt.date) -> str:
    """The `ETag` of a submission read as in force for `period`: its revision, and its own month when it is an
    earlier month's carried forward, so that no tag of the period's own submission (when it comes) is ever the
    same, and a `304` never keeps a client on the carried one."""
    if submission.period == period:
        return etag(submission.revision)
    return f'"v{submission.revision}.{submission.period:%Y-%m}"'


async def _newest_at_or_before(
    session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date
) -> Submission | None:
    query = select(Submission).where(
        Submission.kampung_id == kampung_id, Submission.module == module, Submission.period <= period
    )
    return await session.scalar(query.order_by(Submission.period.desc()).limit(1))


async def _exact(session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date) -> Submission | None:
    query = select(Submission).where(
        Submission.kampung_id == kampung_id, Submission.module == module, Submission.period == period
    )
    return await session.scalar(query.execution_options(populate_existing=True))


async def get_submission(
    session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date, exact: bool
) -> Submission:
    """The submission in force for the period: the newest at or before it (exactly of it when `exact`)."""
    if exact:
        found = await _exact(session, kampung_id=kampung_id, module=module, period=period)
    else:
        found = await _newest_at_or_before(session, kampung_id=kampung_id, module=module, period=period)
    if found is None:
        raise NotFound(f"Kampung KB {kampung_id} has no {module} submission in force for {period:%Y-%m}")
    return found


async def in_force(session: AsyncSession, *, kampung_id: int, period: dt.date) -> dict[Module, Submission]:
    """Every module's submission in force for the period (as `get_submission` finds each), in one query."""
    query = (
        select(Submission)
        .where(Submission.kampung_id == kampung_id, Submission.period <= period)
        .ext(distinct_on(Submission.module))
        .order_by(Submission.module, Submission.period.desc())
    )
    return {Module(s.module): s for s in await session.scalars(query)}


async def list_revisions(
    session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date
) -> list[Submission | SubmissionRevision]:
    """Every revision of the submission of exactly this period, newest first: the one in force, then the ones it
    replaced."""
    submission = await _exact(session, kampung_id=kampung_id, module=module, period=period)
    if submission is None:
        raise NotFound(f"Kampung KB {kampung_id} has no {module} submission for {period:%Y-%m}")
    query = (
        select(SubmissionRevision)
        .where(SubmissionRevision.submission_id == submission.id)
        .order_by(SubmissionRevision.revision.desc())
    )
    return [submission, *await session.scalars(query)]


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
