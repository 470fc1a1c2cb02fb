"""A large import's classification once its merge has committed: on several connections side by side.

One transaction assembles snapshots and stores answers one slice after another, so a national import's
classification is bound by one PostgreSQL backend while the classifier and the other core wait. An import that
merged `classify_apart_from` Kampung KB or more therefore hands them over to itself in the merge's transaction
(`handover` events, due only after `handover_s`) and records `merged_at` with its counts (`job.mark_merged`). Then
`classify_apart` runs `classify_connections` transactions at once, each taking the handed-over events of its share
of the Kampung KB (this import's and any earlier import's), those of `SLICE` Kampung KB at a time so that its memory
does not grow with the file, classifying them in batch calls and writing the report events of all its slices once,
due later too; a last transaction marks the job succeeded and makes those report events due.

A process that dies on the way leaves nothing undone: a retry of the job resumes here (`merged_at` is set), and
whatever no retry takes, the relay classifies and delivers when its events come due.
"""

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.changes import handover, pipeline
from registry_api.imports.job import ClaimedJob, JobContext, finish, stored_summary
from registry_api.imports.schemas import ImportStatus

SLICE = 10_000
"""Kampung KB whose handed-over events a transaction classifies at once."""


async def classify_apart(
    sessionmaker: async_sessionmaker[AsyncSession], *, job: ClaimedJob, context: JobContext
) -> list[int]:
    """Classify what the job handed over to itself, then finish it; returns the ids of the report events to deliver.

    Raises `LeaseLost` when another claimer holds the job by the end (the classifications stay: they are correct).
    """
    started = time.monotonic()
    parts = max(1, context.classify_connections)

    async def classify_part(part: int) -> list[int]:
        moved = pipeline.Moved()
        after = 0
        async with sessionmaker() as session, session.begin():
            # A slice at a time: what a slice's classification holds (its Kampung KB, periods, snapshots, answers)
            # does not grow with the file. The reports all slices move are queued once.
            while (
                taken := await handover.take(session, part=part, parts=parts, after=after, limit=SLICE)
            ).last_kampung:
                after = taken.last_kampung
                if taken.earliest:
                    change = pipeline.Change(taken.kabupaten, written_from=taken.earliest)
                    await pipeline.record(session, change, classifying=context.classifying(), moved=moved)
            return await pipeline.queue_reports(session, moved, hold_s=context.handover_s)

    if parts == 1:  # one connection: also where sessions share one (tests)
        shares = [await classify_part(0)]
    else:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(classify_part(part)) for part in range(parts)]
        shares = [task.result() for task in tasks]
    report_ids = [event_id for share in shares for event_id in share]
    async with sessionmaker() as session, session.begin():
        summary = await stored_summary(session, job.id, resumed_at=started)
        summary.timings["classified"] = round(time.monotonic() - started, 3)
        await finish(
            session,
            job=job,
            claimer=context.claimer,
            summary=summary,
            status=ImportStatus.SUCCEEDED,
            reason=None,
            merged=True,
        )
        await pipeline.make_due(session, ids=report_ids)
    return report_ids
