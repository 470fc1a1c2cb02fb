"""A client that knows the registry only through the change feed ends with exactly its state.

Random sequences of `PUT`s, imports, deactivations, back-dated writes that move tiers, and classifier outages run
against the registry, its worker and the classifier as real processes (Hypothesis `RuleBasedStateMachine`). At the
end of each sequence the classifier is back, the relay has caught up, and a client replays the whole feed from its
start: every Kampung KB (active, tier, version), every submission (its revision) and every classification (its tier)
it ends up with must be the registry's.
"""

import asyncio
import time
from typing import Any, ClassVar

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from kampungkb_local import processes
from tests.e2e.conftest import Stack
from tests.factories import kependudukan_payload, kkbpk_payload, profil_payload
from tests.imports.files import KEPENDUDUKAN_COLUMNS, kependudukan_row, to_csv

pytestmark = pytest.mark.e2e

PERIODS = ["2024-03", "2024-04", "2024-05"]
CONVERGE_S = 60.0


def query(database_url: str, sql: str) -> list[Any]:
    async def run() -> list[Any]:
        connection = await asyncpg.connect(database_url)
        try:
            return list(await connection.fetch(sql))
        finally:
            await connection.close()

    return asyncio.run(run())


def caught_up(cursor: str | None, last: str | None) -> bool:
    """Whether a client at `cursor` has been served the change at `last` (both `txid-id`)."""
    if last is None:
        return True
    if cursor is None:
        return False
    position, target = (tuple(map(int, c.split("-"))) for c in (cursor, last))
    return position >= target


class FeedReplay(RuleBasedStateMachine):
    stack: ClassVar[Stack]
    desa: ClassVar[list[str]]
    """Desa codes not registered yet, shared by every sequence of the run (they share one database)."""

    kampung = Bundle("kampung")

    def __init__(self) -> None:
        super().__init__()
        self.http = httpx.Client(
            base_url=self.stack.registry_url, headers={"Authorization": f"Bearer {self.stack.key}"}, timeout=30
        )
        self.registered: dict[int, str] = {}

    @initialize(target=kampung)
    def register_first(self) -> int:
        return self.register()

    @rule(target=kampung)
    def register(self) -> int:
        code = self.desa.pop()
        response = self.http.post(
            "/v1/kampung", json={"name": f"KB {code}", "desa_code": code, "formed_on": "2020-01-01"}
        )
        assert response.status_code == 201, response.text
        kampung_id = int(response.json()["id"])
        self.registered[kampung_id] = code
        # PUS in force from the start, so that every later kkbpk can be checked against it.
        self.put(kampung_id, "kependudukan", "2024-01", kependudukan_payload())
        return kampung_id

    def put(self, kampung_id: int, module: str, period: str, body: dict[str, Any]) -> None:
        response = self.http.put(f"/v1/kampung/{kampung_id}/{module}/{period}", json=body)
        assert response.status_code in (200, 201), response.text

    @rule(kampung_id=kampung, period=st.sampled_from(PERIODS), users=st.integers(40, 90), pokja=st.booleans())
    def write(self, kampung_id: int, period: str, users: int, pokja: bool) -> None:
        self.put(kampung_id, "kkbpk", period, kkbpk_payload(users=users, non_users=100 - users))
        members = 12 if pokja else 0
        self.put(
            kampung_id,
            "profil",
            period,
            profil_payload(
                pokja={
                    "exists": pokja,
                    "sk": pokja,
                    "members": members,
                    "trained_members": members // 2,
                    "trained": pokja,
                }
            ),
        )

    @rule(kampung_id=kampung, families=st.integers(100, 200))
    def back_dated(self, kampung_id: int, families: int) -> None:
        """A correction to the oldest month: every later period is classified again, and tiers may move."""
        self.put(kampung_id, "kependudukan", "2024-01", kependudukan_payload(families=families))

    @rule(kampung_id=kampung)
    def deactivate(self, kampung_id: int) -> None:
        response = self.http.patch(f"/v1/kampung/{kampung_id}", json={"active": False})
        assert response.status_code == 200, response.text

    @rule(period=st.sampled_from(PERIODS), families=st.integers(100, 200))
    def import_kependudukan(self, period: str, families: int) -> None:
        rows = [{**kependudukan_row(code), "families": families} for code in self.registered.values()]
        response = self.http.post(
            "/v1/imports",
            params={"module": "kependudukan", "period": period},
            content=to_csv(KEPENDUDUKAN_COLUMNS, rows),
            headers={"Content-Type": "text/csv"},
        )
        assert response.status_code == 202, response.text
        for _ in range(300):
            job = self.http.get(f"/v1/imports/{response.json()['id']}").json()
            if job["status"] in ("succeeded", "failed"):
                return
            time.sleep(0.1)
        raise AssertionError(f"import still {job['status']}")

    @rule()
    def classifier_down(self) -> None:
        self.stack.classifier.kill()

    @rule()
    def classifier_up(self) -> None:
        self.classifier_back()

    def classifier_back(self) -> None:
        if not self.stack.classifier.running:
            self.stack.classifier = processes.classifier(self.stack.classifier_port).start(base_env=self.stack.env)
            self.stack.classifier.wait_ready()

    def teardown(self) -> None:
        try:
            self.classifier_back()
            self.converge()
            assert self.replayed() == self.registry()
        finally:
            self.http.close()

    def converge(self) -> None:
        """Until the relay has classified everything the outages left pending."""
        deadline = time.monotonic() + CONVERGE_S
        while time.monotonic() < deadline:
            [(owed,)] = query(
                self.stack.database_url,
                "SELECT count(*) FROM outbox WHERE topic = 'classify' AND delivered_at IS NULL",
            )
            if owed == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"{owed} classifications still owed after {CONVERGE_S} s")

    def replayed(self) -> dict[str, Any]:
        """The state a client builds from the feed alone, from its first item until it has caught up with the last
        change written (the feed serves a change once every transaction older than its own has ended)."""
        newest = query(self.stack.database_url, "SELECT txid, id FROM change_log ORDER BY txid DESC, id DESC LIMIT 1")
        last = f"{newest[0]['txid']}-{newest[0]['id']}" if newest else None
        deadline = time.monotonic() + CONVERGE_S
        kampung: dict[int, tuple[bool, str | None, int]] = {}
        submissions: dict[tuple[int, str, str], int] = {}
        tiers: dict[tuple[int, str, str], str | None] = {}
        after: str | None = None
        while True:
            page = self.http.get("/v1/changes", params={"limit": 1000, **({"after": after} if after else {})}).json()
            for item in page["items"]:
                if item["kind"] == "kampung":
                    active = item["action"] != "deactivated" and kampung.get(item["kampung_id"], (True,))[0]
                    kampung[item["kampung_id"]] = (active, item["tier"], item["revision"])
                elif item["kind"] == "submission":
                    submissions[(item["kampung_id"], item["module"], item["period"])] = item["revision"]
                elif item["kind"] == "classification":
                    tiers[(item["kampung_id"], item["period"], item["ruleset"])] = item["tier"]
            after = page["next_cursor"]
            if not page["items"] and (caught_up(after, last) or time.monotonic() > deadline):
                break
            if not page["items"]:
                time.sleep(0.1)
        return {"kampung": kampung, "submissions": submissions, "classifications": tiers}

    def registry(self) -> dict[str, Any]:
        url = self.stack.database_url
        return {
            "kampung": {r["id"]: (r["active"], r["tier"], r["version"]) for r in query(url, "SELECT * FROM kampung")},
            "submissions": {
                (r["kampung_id"], r["module"], f"{r['period']:%Y-%m}"): r["revision"]
                for r in query(url, "SELECT kampung_id, module, period, revision FROM submission")
            },
            "classifications": {
                (r["kampung_id"], f"{r['period']:%Y-%m}", r["ruleset"]): r["tier"]
                for r in query(url, "SELECT kampung_id, period, ruleset, tier FROM classification")
            },
        }


async def test_a_client_replaying_the_feed_ends_with_the_registry_state(stack: Stack) -> None:
    [desa] = [
        [
            r["code"]
            for r in await asyncio.to_thread(
                query, stack.database_url, "SELECT code FROM wilayah WHERE level = 'desa' ORDER BY code"
            )
        ]
    ]
    FeedReplay.stack = stack
    FeedReplay.desa = desa
    run = settings(
        max_examples=4,
        stateful_step_count=10,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    await asyncio.to_thread(run_state_machine_as_test, FeedReplay, settings=run)
