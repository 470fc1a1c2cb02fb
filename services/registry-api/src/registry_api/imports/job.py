"""Running a claimed import job, in ONE transaction from the first row read to the final status (or, for a large
import, to its merge: the classification follows on connections of its own, `imports.apart`).

Rows are read and validated with the shared models, COPY'd into a staging table, addressed (desa -> its active
Kampung KB, the key's scope), checked with the same rules as a `PUT` (`submissions.rules`), merged with one statement
per table (revisions kept), classified in batches (or handed over to a later import, or to `apart`: `handover`), and
the outbox events and the final status are written, so that a crash at any point leaves nothing half done: a retry
starts from a clean slate, or from the classification once a large import's merge has committed (`merged_at`).
"""

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kampungkb_shared.closing import Closing
from kampungkb_shared.collector import collector_paused
from kampungkb_shared.regions import NATION_CODE
from kampungkb_shared.statistics import analyze_stale
from registry_api.approvals.service import refusal, refused_writes
from registry_api.auth.service import WRITERS, Principal, Role, key_still_valid
from registry_api.changes import handover, pipeline
from registry_api.classifications.client import ClassifierClient
from registry_api.db import driver_connection
from registry_api.imports import staging
from registry_api.imports.formats import ImportModule
from registry_api.imports.metrics import FAILED_KEY_REVOKED, FAILED_REJECTED, count_on_commit
from registry_api.imports.reading import FileRejected, RowError, SameRow, parse_csv, parse_ndjson
from registry_api.imports.schemas import ImportStatus
from registry_api.kampung.rules import desa_level_error
from registry_api.submissions.rules import MERGED_AFTER, SHARED_LOCK_MODULES, Write, cross_module_violations

MAX_ERRORS = 1000
_COPY_BATCH = 10_000
_RULES_BATCH = 5_000
_ANALYZE_FROM = 10_000


class LeaseLost(Exception):
    """Another claimer took the job over (this one's lease ran out): this attempt's work is rolled back."""


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    key_id: int
    actor: str
    role: str
    scope: str
    module: ImportModule
    period: dt.date | None
    dry_run: bool
    format: str
    attempts: int
    created_at: dt.datetime
    received_at: dt.datetime | None
    merged_at: dt.datetime | None
    """Set when an earlier attempt committed the merge and left the classification (`imports.apart`)."""

    @property
    def principal(self) -> Principal:
        return Principal(key_id=self.key_id, name=self.actor, role=Role(self.role), scope=self.scope)


@dataclass(frozen=True)
class JobContext:
    """What a job needs from the process running it (values from `Settings.import_*`)."""

    claimer: str
    classifier: ClassifierClient
    rulesets: Sequence[str]
    classifier_chunk: int
    classifier_concurrency: int
    classifier_budget_s: float
    classifier_timeout_s: float
    handover_s: float
    classify_apart_from: int
    classify_connections: int
    max_record_bytes: int
    closing: Closing
    """When months close by themselves (rows into a closed month are refused like rows into an approved one)."""

    def classifying(self, *, hand_over: bool = False) -> pipeline.Classifying:
        """How an import classifies: batch calls of `classifier_chunk` results, `classifier_concurrency` at once, a
        long budget; or (`hand_over`) left to a later import or this one's own connections, due after `handover_s`."""
        return pipeline.Classifying(
            classifier=self.classifier,
            rulesets=self.rulesets,
            budget_s=self.classifier_budget_s,
            chunk=self.classifier_chunk,
            concurrency=self.classifier_concurrency,
            attempt_timeout_s=self.classifier_timeout_s,
            hand_over_s=self.handover_s if hand_over else None,
        )


@dataclass
class Summary:
    """The import summary being built: counts, the first errors (by row) and totals by kind, phase timings."""

    rows_total: int = 0
    rows_unchanged: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    failed_rows: set[int] = field(default_factory=set)
    errors: list[RowError] = field(default_factory=list)
    totals: Counter[str] = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)
    _started: float = field(default_factory=time.monotonic)
    _phase: float = field(default_factory=time.monotonic)

    failed_unlisted: int = 0
    """Failed rows beyond the errors a stored summary keeps (a restored summary's)."""

    @property
    def rows_failed(self) -> int:
        return len(self.failed_rows) + self.failed_unlisted

    def add(self, error: RowError) -> None:
        self.failed_rows.add(error.row)
        self.totals[error.kind] += 1
        if len(self.errors) < 2 * MAX_ERRORS:
            self.errors.append(error)

    @classmethod
    def stored(cls, row: Any, *, resumed_at: float) -> "Summary":
        """The summary an import job's row holds (written with its merge), going on from `resumed_at` (monotonic)."""
        timings = dict(row.timings)
        listed = {error["row"] for error in row.errors}
        summary = cls(
            rows_total=row.rows_total,
            rows_unchanged=row.rows_unchanged,
            rows_inserted=row.rows_inserted,
            rows_updated=row.rows_updated,
            failed_rows=listed,
            errors=[RowError(**error) for error in row.errors],
            totals=Counter(row.error_totals),
            timings=timings,
            failed_unlisted=row.rows_failed - len(listed),
        )
        summary._started = resumed_at - timings.get("total", 0.0)  # its total goes on from where the merge left it
        return summary

    def phase(self, name: str) -> None:
        now = time.monotonic()
        self.timings[name] = round(now - self._phase, 3)
        self._phase = now

    def aside(self, name: str, seconds: float) -> None:
        """Time spent inside the current phase on something else (waiting): timed apart, not counted in it."""
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 3)
        self._phase += seconds

    def row_values(self, *, status: ImportStatus, reason: str | None) -> dict[str, Any]:
        self.timings["total"] = round(time.monotonic() - self._started, 3)
        errors = sorted(self.errors, key=lambda e: e.row)[:MAX_ERRORS]
        return {
            "status": status.value,
            "reason": reason,
            "rows_total": self.rows_total,
            "rows_ok": self.rows_total - self.rows_failed,
            "rows_failed": self.rows_failed,
            "rows_unchanged": self.rows_unchanged,
            "rows_inserted": self.rows_inserted,
            "rows_updated": self.rows_updated,
            "errors": orjson.dumps([e.__dict__ for e in errors]).decode(),
            "error_totals": orjson.dumps(dict(self.totals)).decode(),
        }


KEY_REVOKED = "key revoked"
"""The reason of a job failed because the key that sent it was revoked (or expired) before it committed."""


class ImportRejected(Exception):
    """The file as a whole cannot be imported: the job fails with this reason and nothing is written."""

    def __init__(self, reason: str, summary: Summary) -> None:
        super().__init__(reason)
        self.reason = reason
        self.summary = summary


# --- running -----------------------------------------------------------------------------------------------------

# The summary's columns: written when a job finishes, and with the merge of a large import (`mark_merged`); only
# while the claimer still holds the job.
_SUMMARY = """
           rows_total = :rows_total, rows_ok = :rows_ok, rows_failed = :rows_failed, rows_unchanged = :rows_unchanged,
           rows_inserted = :rows_inserted, rows_updated = :rows_updated, errors = CAST(:errors AS jsonb),
           error_totals = CAST(:error_totals AS jsonb), timings = CAST(:timings AS jsonb)
     WHERE id = :id AND claimed_by = :claimer AND status = 'running'
"""
_FINISH = text(
    f"UPDATE import_job SET status = :status, reason = :reason, finished_at = clock_timestamp(), claimed_until = NULL,"
    f"{_SUMMARY}"
)
_MERGED = text(f"UPDATE import_job SET merged_at = clock_timestamp(),{_SUMMARY}")
_CHUNK = text("SELECT data FROM import_chunk WHERE job_id = :id AND seq = :seq")


async def finish(
    session: AsyncSession,
    *,
    job: ClaimedJob,
    claimer: str,
    summary: Summary,
    status: ImportStatus,
    reason: str | None,
    merged: bool = False,
) -> None:
    """The final status, only while this claimer still holds the job (else `LeaseLost`); the body is dropped, and
    classifications handed over by earlier imports that no later import will take are released to the relay.
    `merged`: the job's rows were committed before (a large import's merge), so a key revoked since then refuses
    nothing: what remains, the classification, is derived from rows already in, and the job says so."""
    if status is ImportStatus.SUCCEEDED and not merged and not await key_still_valid(session, job.key_id):
        raise ImportRejected(KEY_REVOKED, summary)  # its transaction is rolled back: nothing of it is written
    if job.received_at is not None:
        summary.timings["received"] = round((job.received_at - job.created_at).total_seconds(), 3)
    await _write_summary(session, _FINISH, job=job, claimer=claimer, summary=summary, status=status, reason=reason)
    await session.execute(text("DELETE FROM import_chunk WHERE job_id = :id"), {"id": job.id})
    if not job.dry_run:
        await release_handed_over(session, job=job)
    failure = FAILED_KEY_REVOKED if reason == KEY_REVOKED else FAILED_REJECTED
    count_on_commit(
        session,
        module=job.module.value,
        status=status.value,
        rows={
            "inserted": summary.rows_inserted,
            "updated": summary.rows_updated,
            "unchanged": summary.rows_unchanged,
            "failed": summary.rows_failed,
        },
        seconds=summary.timings["total"],
        failure="" if status is ImportStatus.SUCCEEDED else failure,
    )


_PAIRS = [
    *((module.value, after.value) for module, modules in MERGED_AFTER.items() for after in sorted(modules)),
    # Every other file addresses its rows' Kampung KB by desa: it merges after the kampung files filed before it, which
    # may create them, so that a month's files can be posted together.
    *((module.value, ImportModule.KAMPUNG.value) for module in ImportModule if module is not ImportModule.KAMPUNG),
]
MERGE_ORDER = {"waiting": [module for module, _ in _PAIRS], "waited_for": [after for _, after in _PAIRS]}
"""(module, a module whose imports it merges after), as the parameters `:waiting` and `:waited_for` of the statements
that read it (`unnest(:waiting, :waited_for) AS o(m, after)`); which of those imports, `merges_before`."""
UNCLAIMED = "(d.status = 'queued' OR d.status = 'running' AND d.claimed_until < clock_timestamp())"
"""An import job `d` waiting to be claimed: queued, or running with its lease run out (its claimer gone)."""


def merges_before(job_id: str, job_period: str) -> str:
    """Whether the import job `d`, of a module that the job of id `job_id` and period `job_period` (SQL expressions)
    merges after (`MERGE_ORDER`), is one it waits for: a kampung file filed before it, or an import of its period or
    an earlier one."""
    return f"CASE WHEN d.module = '{ImportModule.KAMPUNG.value}' THEN d.id < {job_id} ELSE d.period <= {job_period} END"


# Later: filed after this one, or waiting for it (a kkbpk filed before a kependudukan or profil of its period).
_LATER_IMPORT = text("""
    SELECT EXISTS (SELECT 1 FROM import_job j
                    WHERE status IN ('queued', 'running') AND id <> :id AND NOT dry_run AND module <> 'kampung'
                      AND (id > :id OR EXISTS (
                           SELECT 1 FROM unnest(CAST(:waiting AS text[]), CAST(:waited_for AS text[])) AS o(m, after)
                            WHERE o.m = j.module AND o.after = :module AND j.period >= :period)))
""")


async def later_import_pending(session: AsyncSession, *, job: ClaimedJob) -> bool:
    """Whether a module import that merges after this one is queued or running (it will classify what this one
    leaves)."""
    params = {
        "id": job.id,
        "module": job.module.value,
        "period": job.period,
        **MERGE_ORDER,
    }
    return bool((await session.execute(_LATER_IMPORT, params)).scalar_one())


# The imports of the modules `:of` that merge before this one (`MERGE_ORDER`), waiting to be claimed (queued, or
# running with their lease run out) and running beside it (held by a live claimer).
_MERGING_BEFORE = text(f"""
    SELECT coalesce(bool_or({UNCLAIMED}), false) AS unclaimed,
           coalesce(bool_or(d.status = 'running' AND d.claimed_until >= clock_timestamp()), false) AS running
      FROM unnest(CAST(:waiting AS text[]), CAST(:waited_for AS text[])) AS o(m, after)
      JOIN import_job d ON d.module = o.after
     WHERE o.m = :module AND o.after = ANY(CAST(:of AS text[])) AND d.id <> :id AND d.status IN ('queued', 'running')
       AND NOT d.dry_run AND {merges_before(":id", "CAST(:period AS date)")}
""")
_MERGING_BEFORE_POLL_S = 0.1


class Deferred(Exception):
    """An import that merges before this one is waiting to be claimed: this one goes back to the queue, its attempt
    not counted, so that its claimer may take that import first."""


async def wait_for_kampung_files(connection: AsyncConnection, *, job: ClaimedJob) -> float:
    """Wait until no kampung file filed before this import runs (this one's file read meanwhile: its addresses are
    checked once the Kampung KB it may create are there); returns the seconds waited. `Deferred` when one is
    waiting to be claimed (see `wait_for_merges_before`). A dry run waits too: it checks its rows against the same
    Kampung KB as the import would."""
    if job.module is ImportModule.KAMPUNG:
        return 0.0
    return await _wait_for(connection, job=job, modules=[ImportModule.KAMPUNG.value])


async def wait_for_merges_before(connection: AsyncConnection, *, job: ClaimedJob) -> float:
    """Wait until no import that merges before this one runs (a kkbpk, its file read and its addresses checked, for
    the kependudukan and profil of its period running beside it); returns the seconds waited. `Deferred` when one is
    waiting to be claimed.

    A kkbpk is claimed once none of them waits to be claimed (`background.imports`), so each one it waits for is held
    by another claimer, which ends it or lets its lease run out. One posted (or released) since, or whose lease ran
    out, is waited for by no claimer: the kkbpk defers to it rather than wait for a claimer that may be itself."""
    module = job.module.submission_module
    if job.dry_run or module not in MERGED_AFTER:
        return 0.0
    return await _wait_for(connection, job=job, modules=[after.value for after in MERGED_AFTER[module]])


async def _wait_for(connection: AsyncConnection, *, job: ClaimedJob, modules: list[str]) -> float:
    params = {"id": job.id, "module": job.module.value, "period": job.period, "of": modules, **MERGE_ORDER}
    began = time.monotonic()
    while True:  # polled: they run in other processes
        unclaimed, running = (await connection.execute(_MERGING_BEFORE, params)).one()
        if unclaimed:
            raise Deferred(f"import job {job.id} deferred to an import it merges after")
        if not running:
            return time.monotonic() - began
        await asyncio.sleep(_MERGING_BEFORE_POLL_S)


async def release_handed_over(session: AsyncSession, *, job: ClaimedJob) -> None:
    """A job ends (or fails) with no later import to take what is handed over: make it due now, for the relay."""
    if not await later_import_pending(session, job=job):
        await handover.release(session)


_STORED = text("""
    SELECT rows_total, rows_failed, rows_unchanged, rows_inserted, rows_updated, errors, error_totals, timings
      FROM import_job WHERE id = :id
""")


async def _write_summary(
    session: AsyncSession,
    statement: TextClause,
    *,
    job: ClaimedJob,
    claimer: str,
    summary: Summary,
    status: ImportStatus,
    reason: str | None,
) -> None:
    """`statement` (`_FINISH`, `_MERGED`) with the summary's values; `LeaseLost` if another claimer holds the job."""
    values = summary.row_values(status=status, reason=reason)
    params = {**values, "timings": orjson.dumps(summary.timings).decode(), "id": job.id, "claimer": claimer}
    if (await session.execute(statement, params)).rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"import job {job.id} is no longer held by {claimer}")


async def mark_merged(session: AsyncSession, *, job: ClaimedJob, claimer: str, summary: Summary) -> None:
    """Record, with the merge, that it is done and the summary so far (the job stays running: classification is
    left to `imports.apart`); `LeaseLost` if another claimer holds the job now."""
    await _write_summary(
        session, _MERGED, job=job, claimer=claimer, summary=summary, status=ImportStatus.RUNNING, reason=None
    )


async def stored_summary(session: AsyncSession, job_id: int, *, resumed_at: float) -> Summary:
    return Summary.stored((await session.execute(_STORED, {"id": job_id})).one(), resumed_at=resumed_at)


async def _chunks(connection: AsyncConnection, job_id: int) -> AsyncIterator[bytes]:
    seq = 0
    while (data := (await connection.execute(_CHUNK, {"id": job_id, "seq": seq})).scalar()) is not None:
        yield data
        seq += 1


@dataclass(frozen=True)
class Ran:
    """What a job's transaction left to do once it commits."""

    report_ids: list[int]
    """The report events it wrote, to deliver."""
    classify_apart: bool = False
    """The merge is committed (`merged_at`) and the classification left to `imports.apart.classify_apart`."""


async def run_job(session: AsyncSession, *, job: ClaimedJob, context: JobContext) -> Ran:
    """Run a claimed job in the caller's transaction: to its end, or (a large import) until its merge is recorded.

    Raises `ImportRejected` when the file as a whole cannot be imported (the caller rolls back and records it).
    """
    if job.merged_at is not None:  # an earlier attempt committed the merge: only the classification is left
        return Ran([], classify_apart=True)
    connection = await session.connection()
    summary = Summary()
    # A crashed runner's backend notices its client is gone within a second, ending its transaction and locks.
    await connection.execute(
        text(
            "SELECT set_config('client_connection_check_interval', '1000', true) "
            "WHERE current_setting('server_version_num')::int >= 140000"
        )
    )
    await staging.create(connection)
    with collector_paused():  # many short-lived objects per row
        read = await _read_into_staging(connection, job=job, summary=summary, max_record_bytes=context.max_record_bytes)
    # Read while the kampung files filed before it merge; its addresses and everything after them wait for those.
    summary.aside("waited", await wait_for_kampung_files(connection, job=job))
    if summary.rows_total >= _ANALYZE_FROM:
        # A big import right after another: autovacuum has not seen the rows the last one added yet, and plans made
        # on statistics of near-empty tables turn every per-row lookup below into a sequential scan. Only the tables
        # that changed a lot since their statistics were taken: analysing a large `classification` costs seconds,
        # and an unchanged re-import would pay it on every job for nothing.
        # A `kampung` import never reads `classification` (it classifies nothing).
        tables = ["kampung", "submission"] + ([] if job.module is ImportModule.KAMPUNG else ["classification"])
        await analyze_stale(await driver_connection(connection), tables)
    # What needs no other module's rows is checked while the files this one reads from merge (the addresses, and
    # which rows equal the ones stored); the rules across modules, the lock and the merge wait for them (the rules
    # refresh the statistics of `submission` that they change: `submissions.rules`).
    same_unchanged = await _check_addresses(connection, job=job, summary=summary, read=read)
    # Unchanged rows first, so that only the Kampung KB the merge writes to are locked: a row equal to what is stored
    # now is skipped as if the import had run just before any write still to come.
    await staging.mark_unchanged(connection, job.module, job.period)
    summary.aside("waited", await wait_for_merges_before(connection, job=job))
    # Kependudukan and profil files merge side by side (neither reads the other); a kkbpk file, which reads both,
    # gets here only once they are done (`wait_for_merges_before`) and takes the lock whole.
    shared = job.module.submission_module in SHARED_LOCK_MODULES
    ids = await staging.kampung_to_write(connection)
    if not job.dry_run:
        await pipeline.lock_many(session, ids, shared=shared)
    if job.module.submission_module is not None:
        with collector_paused():
            await _check_rules(connection, session=session, job=job, summary=summary)
            await _check_approved(connection, session=session, job=job, summary=summary, closing=context.closing)
    elif job.module is ImportModule.KEGIATAN:
        await _check_approved(connection, session=session, job=job, summary=summary, closing=context.closing)
    states = await staging.counts(connection)
    summary.rows_unchanged = states.get("unchanged", 0) + same_unchanged
    to_merge = states.get("ok", 0)
    summary.phase("validated")
    if summary.rows_failed == summary.rows_total:
        first = min(summary.errors, key=lambda e: e.row)
        reason = f"no valid rows: all {summary.rows_total} rows have errors (first: row {first.row} {first.field}: "
        await finish(
            session,
            job=job,
            claimer=context.claimer,
            summary=summary,
            status=ImportStatus.FAILED,
            reason=f"{reason}{first.message})",
        )
        return Ran([])
    if job.dry_run:
        summary.rows_updated = await staging.would_update(connection, job.module, job.period)
        summary.rows_inserted = to_merge - summary.rows_updated
        await finish(
            session, job=job, claimer=context.claimer, summary=summary, status=ImportStatus.SUCCEEDED, reason=None
        )
        return Ran([])
    merged = await staging.merge(connection, job.module, job.period, actor=job.actor)
    summary.rows_inserted, summary.rows_updated = merged.inserted, merged.updated
    summary.phase("loaded")
    kabupaten = {m.kampung_id: m.kabupaten_code for m in merged.changed}
    changed_from = {m.kampung_id: m.period for m in merged.changed}
    if job.module is ImportModule.KAMPUNG:
        recorded = await pipeline.record(session, pipeline.Change(kabupaten, recount_from=changed_from))
    else:
        later = await later_import_pending(session, job=job)
        apart = not later and len(changed_from) >= context.classify_apart_from
        if later or apart:
            # Handed over: to a later import, or to this one's own classification once the merge has committed.
            handed_over = pipeline.Change(kabupaten, written_from=changed_from)
            await pipeline.record(session, handed_over, classifying=context.classifying(hand_over=True))
            summary.phase("handed_over")
            if apart:
                await mark_merged(session, job=job, claimer=context.claimer, summary=summary)
                return Ran([], classify_apart=True)
            recorded = pipeline.Recorded(None)
        else:
            if shared:  # before the tiers change; an earlier file merging beside this one commits first
                await pipeline.lock_many(session, ids)
            # One batch run for the whole file, with what earlier imports handed over.
            taken = await handover.take(session)
            # What this file wrote is of its one period; what earlier files handed over, of periods not known.
            change = pipeline.Change({**taken.kabupaten, **kabupaten}, written_from=dict(taken.earliest))
            for kampung_id, period in changed_from.items():
                if kampung_id in change.written_from:
                    change.written_from[kampung_id] = min(period, change.written_from[kampung_id])
                else:
                    change.written_at[kampung_id] = period
            recorded = await pipeline.record(session, change, classifying=context.classifying())
            summary.phase("classified")
    summary.phase("reports_queued")
    await finish(session, job=job, claimer=context.claimer, summary=summary, status=ImportStatus.SUCCEEDED, reason=None)
    return Ran(recorded.report_event_ids)


def _everywhere(job: ClaimedJob) -> bool:
    """Whether the job's key may write to every desa: then no row fails on its scope."""
    principal = job.principal
    return principal.covers_region(NATION_CODE) and (job.module is ImportModule.KAMPUNG or principal.role in WRITERS)


@dataclass
class _Read:
    """What reading a body into staging left to check."""

    same: list[SameRow] = field(default_factory=list)
    """The rows recognised by their source hash that were not staged."""
    staged: int = 0
    """How many rows were staged."""


async def _read_into_staging(
    connection: AsyncConnection, *, job: ClaimedJob, summary: Summary, max_record_bytes: int
) -> _Read:
    """Rows into staging, chunk by chunk (a file is never held whole).

    A row whose source hash is the one its stored row was last imported from is not validated: its address is that
    of its active Kampung KB. With a key that may write everywhere it is not staged either (an unchanged re-import
    then stages nothing): it is only checked for repeats, with the staged rows of its desa (`_check_addresses`).
    Otherwise it is staged `unchanged`, without a payload, and its address checked as any other row's.
    """
    parse = parse_csv if job.format == "csv" else parse_ndjson
    known = await staging.source_hashes(connection, job.module, job.period)
    stage_same = not _everywhere(job)
    read = _Read()
    batch: list[staging.Staged] = []
    last_row = -1
    try:
        async for parsed in parse(_chunks(connection, job.id), job.module, known, max_record_bytes=max_record_bytes):
            for item in parsed:
                if item.row != last_row:  # the errors of one row arrive together: it counts once
                    summary.rows_total += 1
                    last_row = item.row
                if isinstance(item, RowError):
                    summary.add(item)
                elif not isinstance(item, SameRow):
                    batch.append((item.row, item.desa_code, item.payload, item.hash, item.source_hash, "ok"))
                elif stage_same:
                    batch.append((item.row, item.desa_code, None, None, item.source_hash, "unchanged"))
                else:
                    read.same.append(item)
            if len(batch) >= _COPY_BATCH:
                await staging.copy_rows(connection, batch)
                read.staged += len(batch)
                batch = []
    except FileRejected as exc:
        raise ImportRejected(str(exc), summary) from exc
    if batch:
        await staging.copy_rows(connection, batch)
        read.staged += len(batch)
    if summary.rows_total == 0:
        raise ImportRejected("no data rows: the file holds no row to import", summary)
    return read


async def _check_addresses(connection: AsyncConnection, *, job: ClaimedJob, summary: Summary, read: _Read) -> int:
    """Each row's desa must be a desa/kelurahan with an active Kampung KB (for `kampung`: the desa only) inside the
    key's scope, and a Kampung KB appears once per file (`kegiatan`: the same activity once).

    The rows recognised by their source hash that were not staged (`read.same`) are checked in the same pass, with
    the staged rows of their desa; returns how many of them pass (they are unchanged)."""
    principal = job.principal
    creating = job.module is ImportModule.KAMPUNG
    by_content = job.module is ImportModule.KEGIATAN
    same = read.same
    # A key that may write everywhere fails no row on its scope: only the rows that may fail otherwise are read.
    staged = (
        await staging.addresses(
            connection,
            every=not _everywhere(job),
            creating=creating,
            by_content=by_content,
            also=[row.desa_code for row in same],
        )
        if read.staged
        else []
    )
    seen: dict[tuple[str, str | None], int] = {}
    key: tuple[str, str | None]
    failed: list[int] = []
    same_failed = 0
    rows: list[staging.Address | SameRow] = [*staged, *same]
    if staged and same:
        rows.sort(key=attrgetter("row"))
    for address in rows:
        if isinstance(address, SameRow):
            # Its active Kampung KB's, in a desa, under a key that may write everywhere: it can only repeat a row.
            error, key = None, (address.desa_code, "")
        else:
            error = _address_error(address, principal=principal, creating=creating)
            key = (address.desa_code, address.content_hash if by_content else "")
        if error is None and (first := seen.setdefault(key, address.row)) != address.row:
            what = "the same activity" if by_content else "this desa_code"
            error = (f"{what} appears already at row {first}: one row per Kampung KB", "duplicate")
        if error is not None:
            summary.add(RowError(address.row, "desa_code", error[0], error[1]))
            if isinstance(address, SameRow):
                same_failed += 1
            else:
                failed.append(address.row)
    await staging.fail(connection, failed)
    return len(same) - same_failed


def _address_error(address: staging.Address, *, principal: Principal, creating: bool) -> tuple[str, str] | None:
    code = address.desa_code
    if error := desa_level_error(code, address.level):
        return error, "unknown_desa"
    if creating:
        allowed = principal.covers_region(code)
    elif address.kampung_id is None:
        return f"desa {code} has no active Kampung KB: register it first (module kampung)", "no_active_kampung"
    else:
        allowed = principal.role in WRITERS and principal.covers_kampung(kampung_id=address.kampung_id, desa_code=code)
    if not allowed:
        return f"forbidden: key scope {principal.scope} does not cover {code}", "out_of_scope"
    return None


async def _check_rules(
    connection: AsyncConnection,
    *,
    session: AsyncSession,
    job: ClaimedJob,
    summary: Summary,
) -> None:
    """The rules across modules, the same functions a `PUT` runs, a page of rows (one query each) at a time."""
    module = job.module.submission_module
    assert module is not None and job.period is not None
    after = 0
    while rows := await staging.page(connection, after=after, limit=_RULES_BATCH):
        # The staged payload is the canonical JSON of the model validated while reading: parsed again only where a
        # rule reads it, a page at a time.
        writes = [Write(kampung_id, job.period, payload) for _, kampung_id, payload in rows]
        failed = []
        for (row, _, _), errors in zip(
            rows, await cross_module_violations(session, module=module, writes=writes), strict=True
        ):
            for error in errors:
                summary.add(RowError(row, ".".join(map(str, error.loc[1:])), error.msg, "cross_module"))
            if errors:
                failed.append(row)
        await staging.fail(connection, failed)
        after = rows[-1][0]


async def _check_approved(
    connection: AsyncConnection, *, session: AsyncSession, job: ClaimedJob, summary: Summary, closing: Closing
) -> None:
    """Rows into a month approved (or closed) for their region, which the key may no longer write into: row errors,
    the same rule as a `PUT`'s (and an activity's `POST`), a page of rows (one query) at a time. A module file writes
    into its period; a kegiatan file into each activity's month."""
    after = 0
    while rows := await _writes_page(connection, job=job, after=after):
        refused = await refused_writes(
            session,
            kampung_ids=[kampung_id for _, kampung_id, _ in rows],
            periods=[period for _, _, period in rows],
            principal=job.principal,
            closing=closing,
        )
        failed = []
        for (row, _, period), status in zip(rows, refused, strict=True):
            if status is not None:
                field = "date" if job.module is ImportModule.KEGIATAN else "desa_code"
                summary.add(RowError(row, field, refusal(status, period=period), "period_approved"))
                failed.append(row)
        await staging.fail(connection, failed)
        after = rows[-1][0]


async def _writes_page(connection: AsyncConnection, *, job: ClaimedJob, after: int) -> list[tuple[int, int, dt.date]]:
    """A page of the rows to write: row, Kampung KB and the month it writes into."""
    if job.module is ImportModule.KEGIATAN:
        return await staging.page_of_months(connection, after=after, limit=_RULES_BATCH)
    assert job.period is not None
    rows = await staging.page_of_kampung(connection, after=after, limit=_RULES_BATCH)
    return [(row, kampung_id, job.period) for row, kampung_id in rows]
