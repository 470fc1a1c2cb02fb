"""A month passing is a change too: under a rule set that counts partners over a window of months (`kkb-2025`: 12),
a Kampung KB's result moves in the month a partner's last activity falls out of it, with no new data.

A write classifies those months up to the current one itself (`classifications.snapshots.periods_to_classify`); the
months that come later are found here, by the relay every `REGISTRY_PARTNER_WINDOW_SWEEP_S` for the current month and
the two before it, and by `registry-api partner-windows --since` over any span (a registry that holds history from
before it classified them): each such Kampung KB gets a `classify` event from its earliest such month, which the
relay then delivers like any other.
"""

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.changes import outbox
from registry_api.classifications import snapshots
from registry_api.classifications.client import ClassifierClient, ClassifierUnavailable
from registry_api.db import session_driver

_ALONE = text("SELECT pg_try_advisory_xact_lock(hashtext('kampungkb:partner-window-sweep'))")


async def owe_classifications(
    sessionmaker: async_sessionmaker[AsyncSession],
    classifier: ClassifierClient,
    rulesets: Sequence[str],
    *,
    since: dt.date,
    until: dt.date,
    budget_s: float,
) -> int | None:
    """A `classify` event for each active Kampung KB that a partner left a window of `rulesets` in a month from
    `since` through `until`, where no classification of that month exists under every rule set. Returns how many;
    0 while another process sweeps (what it finds is the same); None when the rule sets' windows are not known (the
    classifier did not serve them: try again later)."""
    unknown = [ruleset for ruleset in rulesets if not classifier.knows(ruleset)]
    if unknown:
        try:
            await classifier.fetch_contents(unknown, budget_s=budget_s)
        except ClassifierUnavailable:
            return None
    windows = classifier.partner_windows(rulesets)
    if not windows:
        return 0
    async with sessionmaker() as session, session.begin():
        if not await session.scalar(_ALONE):
            return 0
        owed = await snapshots.left_unclassified(session, windows=windows, rulesets=rulesets, since=since, until=until)
        await outbox.add_classify(await session_driver(session), earliest=owed)
    return len(owed)
