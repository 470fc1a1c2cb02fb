"""Bulk imports: receiving a body into the database as it streams, and reading a job's summary."""

import datetime as dt
from collections.abc import AsyncIterator

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from kampungkb_shared.periods import format_period
from registry_api.auth.service import Principal
from registry_api.imports.formats import ImportModule
from registry_api.imports.models import ImportChunk, ImportJob
from registry_api.imports.readable import readable_imports
from registry_api.imports.schemas import ImportRead, ImportStatus, ImportTimings, RowErrorRead


async def create_job(
    session: AsyncSession,
    *,
    principal: Principal,
    module: ImportModule,
    period: dt.date | None,
    dry_run: bool,
    body_format: str,
    idempotency_key: str | None,
    body: AsyncIterator[bytes],
    chunk_bytes: int,
) -> tuple[ImportJob, bool]:
    """Store the job and its body as it streams (chunks of `chunk_bytes`); returns (job, created).

    With an `Idempotency-Key` the key's first job is returned instead (created False) and this body is read to its end
    and dropped.
    A concurrent request with the same key waits on the unique index until the first one commits or rolls back.
    """
    if principal.key_id is None:
        raise Forbidden("bulk imports are sent with an API key (an integration's), not a bearer token")
    first = b""
    async for part in body:
        if part:
            first = part
            break
    if not first:
        raise Unprocessable.field(["body"], "the body is empty: send the CSV or NDJSON rows")
    values = {
        "key_id": principal.key_id,
        "idempotency_key": idempotency_key,
        "actor": principal.actor,
        "role": principal.role.value,
        "scope": principal.scope,
        "module": module.value,
        "period": period,
        "dry_run": dry_run,
        "format": body_format,
    }
    statement = pg_insert(ImportJob).values(values)
    if idempotency_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["key_id", "idempotency_key"])
    job_id = (await session.execute(statement.returning(ImportJob.id))).scalar()
    if job_id is None:
        existing = await session.scalar(
            select(ImportJob).where(ImportJob.key_id == principal.key_id, ImportJob.idempotency_key == idempotency_key)
        )
        assert existing is not None
        if (existing.module, existing.period, existing.dry_run) != (module.value, period, dry_run):
            raise Conflict(f"Idempotency-Key {idempotency_key!r} was used for another import (job {existing.id})")
        # Answered once the body is in: a client that reads its response only after sending everything (`urllib`,
        # `HttpURLConnection`) would meet a connection closed under its upload, not the first job.
        async for _ in body:
            pass
        return existing, False
    seq, size, buffer = 0, 0, bytearray()
    # A chunk is at most `chunk_bytes` whatever the parts the server hands over: the job reads a chunk at a time.
    async for part in _prepended(first, body):
        buffer += part
        while len(buffer) >= chunk_bytes:
            await session.execute(insert(ImportChunk).values(job_id=job_id, seq=seq, data=bytes(buffer[:chunk_bytes])))
            seq, size = seq + 1, size + chunk_bytes
            del buffer[:chunk_bytes]
    if buffer:
        await session.execute(insert(ImportChunk).values(job_id=job_id, seq=seq, data=bytes(buffer)))
        size += len(buffer)
    await session.execute(
        update(ImportJob).where(ImportJob.id == job_id).values(body_bytes=size, received_at=text("clock_timestamp()"))
    )
    job = await session.get(ImportJob, job_id)
    assert job is not None
    return job, True


async def _prepended(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for part in rest:
        yield part


async def get_job(session: AsyncSession, *, job_id: int, principal: Principal) -> ImportJob:
    """The job, if the principal may read it (`readable_imports`); 404 as if absent otherwise."""
    job = await session.scalar(
        readable_imports(principal).where(ImportJob.id == job_id).execution_options(populate_existing=True)
    )
    if job is None:
        raise NotFound(f"no import job {job_id}")
    return job


def to_read(job: ImportJob, *, status_url: str) -> ImportRead:
    timings = dict(job.timings)
    if job.received_at is not None:
        timings.setdefault("received", round((job.received_at - job.created_at).total_seconds(), 3))
    return ImportRead(
        id=job.id,
        status=ImportStatus(job.status),
        status_url=status_url,
        module=ImportModule(job.module),
        period=format_period(job.period) if job.period else None,
        dry_run=job.dry_run,
        format=job.format,
        body_bytes=job.body_bytes,
        attempts=job.attempts,
        rows_total=job.rows_total,
        rows_ok=job.rows_ok,
        rows_failed=job.rows_failed,
        rows_unchanged=job.rows_unchanged,
        rows_inserted=job.rows_inserted,
        rows_updated=job.rows_updated,
        errors=[RowErrorRead.model_validate(e) for e in job.errors],
        error_totals=job.error_totals,
        reason=job.reason,
        timings=ImportTimings.model_validate(timings),
        created_at=job.created_at,
        received_at=job.received_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
