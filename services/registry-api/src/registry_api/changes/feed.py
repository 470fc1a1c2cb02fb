"""Reading the change feed: pages in commit-safe order, the head to start from, and pruning by age.

A position is (`txid`, `id`) of a `change_log` row: the id of the transaction that wrote it, then its own id. A page
serves only rows of transactions below the horizon of the reader's snapshot (`pg_snapshot_xmin`: every transaction
below it has ended), so no row can ever be written behind a position already served: a transaction that began
before a served one and commits after it has a smaller id, and its rows are held back until it ends. Reads are one
index range scan on (`txid`, `id`), or on (`kampung_id`, `txid`, `id`) for a key of one Kampung KB.
"""

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Gone, Unprocessable
from registry_api.auth.readable import scope_limits
from registry_api.auth.service import Principal
from registry_api.db import session_driver

_POSITION = re.compile(r"^(\d{1,19})-(\d{1,19})$")
_BIGINT_MAX = 2**63 - 1

# Below which transaction id every row is final, and the reader's own transaction id if it has one. The API's reads
# never write (a key's last use is written after the request, `db.write_after_commit`), so they have none.
_BOUND = """
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
           pg_current_xact_id_if_assigned()::text::bigint AS own
"""
_OWN_LAST = "SELECT coalesce(max(id), 0) FROM change_log WHERE txid = $1"
# Each item is built as JSON by PostgreSQL: a page is joined, not serialised again (a page of 1,000 items cost some
# 60 ms of Python through models). `{scope}` is the condition of the key's scope, on $6.
_PAGE_OF = """
    SELECT id, txid, CAST(json_build_object(
               'cursor', txid || '-' || id, 'kind', kind, 'action', action, 'kampung_id', kampung_id,
               'desa_code', desa_code, 'module', module, 'period', to_char(period, 'YYYY-MM'), 'revision', revision,
               'ruleset', ruleset, 'tier', tier, 'kegiatan_id', kegiatan_id, 'changed_at', changed_at) AS text) AS item
      FROM change_log
     WHERE {scope} AND (txid, id) > ($1, $2) AND txid < $3
       AND (CAST($4 AS text[]) IS NULL OR kind = ANY($4))
       AND (CAST($5 AS text) IS NULL OR desa_code = $5 OR desa_code LIKE $5 || '.%')
     ORDER BY txid, id LIMIT $7
"""
# A region's page (the nation's: $6 null), read on the position's key.
_PAGE = _PAGE_OF.format(scope="(CAST($6 AS text) IS NULL OR desa_code = $6 OR desa_code LIKE $6 || '.%')")
# One Kampung KB's page (a phone's key), read on `ix_change_log_kampung` from its cursor on (migration 0039). A plain
# condition, not `($6 IS NULL OR kampung_id = $6)`, whose generic plan could use no index on it.
_KAMPUNG_PAGE = _PAGE_OF.format(scope="kampung_id = $6")
_HORIZON = "SELECT txid, id FROM change_log_horizon"
# The oldest `batch` rows in feed order, deleted up to the first one younger than the cut-off: the feed is pruned as a
# prefix, so that one position (the horizon) tells every expired cursor apart.
_PRUNE = """
    WITH head AS (SELECT txid, id, changed_at FROM change_log ORDER BY txid, id LIMIT $2),
    young AS (SELECT txid, id FROM head WHERE changed_at >= $1 ORDER BY txid, id LIMIT 1),
    doomed AS (
        SELECT h.txid, h.id FROM head h WHERE NOT EXISTS (SELECT 1 FROM young y WHERE (h.txid, h.id) >= (y.txid, y.id))
    ),
    gone AS (DELETE FROM change_log c USING doomed d WHERE (c.txid, c.id) = (d.txid, d.id) RETURNING c.txid, c.id)
    SELECT txid, id, (SELECT count(*) FROM gone) AS n FROM gone ORDER BY txid DESC, id DESC LIMIT 1
"""
_RAISE_HORIZON = """
    INSERT INTO change_log_horizon (single, txid, id) VALUES (true, $1, $2)
        ON CONFLICT (single) DO UPDATE SET txid = excluded.txid, id = excluded.id
     WHERE (change_log_horizon.txid, change_log_horizon.id) < (excluded.txid, excluded.id)
"""
PRUNE_BATCH = 50_000


class ChangesExpired(Gone):
    """The cursor is older than the change feed keeps: pull the current state again, then follow from the head."""

    title = "Changes expired"


Position = tuple[int, int]


def encode(position: Position) -> str:
    return f"{position[0]}-{position[1]}"


def decode(cursor: str) -> Position:
    """The position a cursor names; 422 naming `after` for anything this API did not return."""
    match = _POSITION.match(cursor)
    if not match or int(match[1]) > _BIGINT_MAX or int(match[2]) > _BIGINT_MAX:
        raise Unprocessable.field(["query", "after"], "not a cursor this API returned")
    return int(match[1]), int(match[2])


@dataclass(frozen=True)
class Page:
    items: list[str]
    """Each item as JSON text (`schemas.ChangeRead`)."""
    next_cursor: str

    def json(self) -> bytes:
        """The page as `schemas.ChangePage` JSON."""
        return f'{{"items":[{",".join(self.items)}],"next_cursor":"{self.next_cursor}"}}'.encode()


async def head(session: AsyncSession) -> str:
    """The cursor of now: following the feed from it brings every change committed after this call."""
    below, own = await _bound(session)
    if own is None:
        return encode((below, 0))
    return encode((own, await (await session_driver(session)).fetchval(_OWN_LAST, own)))


async def page(
    session: AsyncSession,
    *,
    principal: Principal,
    after: str | None,
    limit: int,
    kinds: list[str] | None,
    wilayah: str | None,
) -> Page:
    """The changes after `after` (from the oldest kept without it) that the principal may read, in feed order."""
    driver = await session_driver(session)
    position = decode(after) if after else (0, 0)
    horizon = await driver.fetchrow(_HORIZON)
    if after and horizon is not None and position < (horizon["txid"], horizon["id"]):
        raise ChangesExpired(
            f"cursor {after} is older than the changes kept; pull the current state again and follow the feed from "
            "GET /v1/changes/head"
        )
    below, own = await _bound(session)
    region, kampung_id = scope_limits(principal)
    statement, scope = (_PAGE, region) if kampung_id is None else (_KAMPUNG_PAGE, kampung_id)
    rows = await driver.fetch(statement, *position, below, kinds, wilayah, scope, limit)
    items = [row["item"] for row in rows]
    if len(rows) == limit:
        last: Position = (rows[-1]["txid"], rows[-1]["id"])
    elif own is None:
        # Every row of every ended transaction is served (or filtered out): on from the horizon, so that a filtered
        # follower does not scan the same rows again.
        last = max(position, (below, 0))
    else:
        last = max(position, *((row["txid"], row["id"]) for row in rows)) if rows else position
    return Page(items=items, next_cursor=encode(last))


async def prune(session: AsyncSession, *, retention_s: float) -> int:
    """Delete the items older than `retention_s` (a prefix of the feed) and raise the horizon; returns how many."""
    driver = await session_driver(session)
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=retention_s)
    total = 0
    while (row := await driver.fetchrow(_PRUNE, cutoff, PRUNE_BATCH)) is not None:
        await driver.execute(_RAISE_HORIZON, row["txid"], row["id"])
        total += row["n"]
        if row["n"] < PRUNE_BATCH:
            break
    return total


async def _bound(session: AsyncSession) -> tuple[int, int | None]:
    """The transaction id below which rows are served, and the reader's own transaction id when its own rows are
    served too: only while no transaction older than it is running (its snapshot's horizon is its own id). A reader
    that writes (in-process tests run inside one transaction) would otherwise serve its own rows and move the cursor
    past an older transaction still running, whose rows, committed later, would fall behind it and never be served."""
    row = await (await session_driver(session)).fetchrow(_BOUND)
    xmin, own = row["xmin"], row["own"]
    if own is not None and xmin >= own:
        return own + 1, own
    return xmin, None
