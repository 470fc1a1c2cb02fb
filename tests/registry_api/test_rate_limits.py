"""Rate limits in Redis: per principal and route group, per client address for reads without a key (behind the
Ingress, the address it forwards); 429 with `Retry-After` and `RateLimit-*` headers; Redis down lets requests through
(logged)."""

import ipaddress
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_local.servers import RedisServer, free_port
from registry_api.auth import limits as limiter_module
from registry_api.auth.limits import RateLimiter
from registry_api.auth.service import Role
from registry_api.dashboard.router import COOKIE
from registry_api.settings import Settings
from tests.factories import auth, load_demo_regions, make_key
from tests.registry_api.conftest import app_client

REPO = Path(__file__).resolve().parents[2]
LIMITS = {"read": "3/minute", "write": "2/minute", "anonymous": "2/minute"}


@pytest.fixture
async def limited(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    fresh = {"rate_limits": LIMITS, "rate_limit_prefix": f"test-{uuid.uuid4().hex}"}  # no count of an earlier run
    async with app_client(settings.model_copy(update=fresh), session_factory) as (app, http):
        yield app, http


def _from_address(app: FastAPI, cookies: dict[str, str] | None = None) -> httpx.AsyncClient:
    """A client from an address of its own, so that no other test (or earlier run) has counted against it."""
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://registry.test", cookies=cookies)


async def test_over_the_limit_is_429_with_headers_per_principal_and_group(
    limited: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession
) -> None:
    _, http = limited
    await load_demo_regions(session)
    first, second = await make_key(session, Role.VIEWER, "99"), await make_key(session, Role.VIEWER, "99")
    answers = [(await http.get("/v1/me", headers=auth(first))).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = await http.get("/v1/kampung", headers=auth(first))
    assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Limit"] == "3" and refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Reset"] == refused.headers["Retry-After"]
    assert (await http.get("/v1/me", headers=auth(second))).status_code == 200  # another principal: its own count
    # writes are another group: the first principal may still write (here: refused for its role, not its rate)
    assert (await http.post("/v1/kampung", json={}, headers=auth(first))).status_code == 403


async def test_reads_without_a_key_are_limited_per_client_address(
    limited: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession
) -> None:
    app, _ = limited
    await load_demo_regions(session)
    async with _from_address(app) as one, _from_address(app) as other:
        assert [(await one.get("/v1/wilayah/99")).status_code for _ in range(3)] == [200, 200, 429]
        assert (await other.get("/v1/wilayah/99")).status_code == 200


async def test_keys_refused_at_the_dashboard_s_sign_in_count_against_the_address(
    limited: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, _ = limited
    async with _from_address(app) as one, _from_address(app) as other:
        tries = [(await one.post("/dashboard/login", data={"key": "kkb_no_such"})).status_code for _ in range(3)]
        assert tries == [401, 401, 429]
        assert (await other.post("/dashboard/login", data={"key": "kkb_no_such"})).status_code == 401


async def test_dashboard_sessions_count_as_their_key_and_unknown_ones_against_the_address(
    limited: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession
) -> None:
    """A session's pages count against the principal of its key (`read`); a token of no session against the
    client's address, as a refused key does."""
    app, http = limited
    key = await make_key(session, Role.VIEWER, "00")
    assert (await http.post("/dashboard/login", data={"key": key})).status_code == 303
    async with _from_address(app, {COOKIE: http.cookies[COOKIE]}) as browser:
        pages = [(await browser.get("/dashboard/99/charts/tiers.svg")).status_code for _ in range(4)]
    assert pages == [404, 404, 404, 429], "three reads of the principal (no report computed), then its limit"
    async with _from_address(app, {COOKIE: "no-such-session"}) as one:
        assert [(await one.get("/dashboard/99/charts/tiers.svg")).status_code for _ in range(3)] == [401, 401, 429]


@pytest.mark.parametrize("path", ["/v1/codes", "/v1/codes/contraception", "/v1/rulesets"])
async def test_the_lists_read_without_a_key_are_limited_per_client_address(
    limited: tuple[FastAPI, httpx.AsyncClient], path: str
) -> None:
    app, _ = limited
    async with _from_address(app) as one, _from_address(app) as other:
        assert [(await one.get(path)).status_code for _ in range(3)] == [200, 200, 429]
        assert (await other.get(path)).status_code == 200


def _deployed_trusted_proxies() -> str:
    """The addresses the Kubernetes manifests let registry-api take X-Forwarded-For from (the ingress controller's)."""
    kustomization = yaml.safe_load((REPO / "deploy" / "k8s" / "base" / "kustomization.yaml").read_text())
    (generator,) = kustomization["configMapGenerator"]
    literals = dict(literal.split("=", 1) for literal in generator["literals"])
    return str(literals["REGISTRY_API_FORWARDED_ALLOW_IPS"])


def _served_by_uvicorn(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> uvicorn.Config:
    """The app as `uvicorn --proxy-headers` serves it in the Deployment, FORWARDED_ALLOW_IPS from the manifests."""
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", _deployed_trusted_proxies())
    config = uvicorn.Config(app, proxy_headers=True, log_config=None)
    config.load()
    return config


async def test_behind_the_ingress_each_forwarded_client_address_has_its_own_limit(
    limited: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = limited
    await load_demo_regions(session)
    served = _served_by_uvicorn(app, monkeypatch).loaded_app
    first_range = ipaddress.ip_network(_deployed_trusted_proxies().split(",")[0].strip())
    ingress = str(first_range[7])  # an ingress controller pod
    through = httpx.ASGITransport(app=served, client=(ingress, 40000))
    async with httpx.AsyncClient(transport=through, base_url="http://registry.test") as http:

        async def read(client_address: str) -> int:
            return (await http.get("/v1/wilayah/99", headers={"X-Forwarded-For": client_address})).status_code

        assert [await read("203.0.113.7") for _ in range(3)] == [200, 200, 429]
        assert [await read("198.51.100.23") for _ in range(3)] == [200, 200, 429]  # another caller, its own count
        # a client's own X-Forwarded-For before the ingress's entry does not move it out of its count
        assert await read("192.0.2.1, 203.0.113.7") == 429
    # Connecting directly from an address that is not trusted, forwarded addresses are ignored: one count.
    direct = httpx.ASGITransport(app=served, client=("203.0.113.99", 40000))
    async with httpx.AsyncClient(transport=direct, base_url="http://registry.test") as http:
        answers = [
            (await http.get("/v1/wilayah/99", headers={"X-Forwarded-For": f"192.0.2.{n}"})).status_code
            for n in range(3)
        ]
    assert answers == [200, 200, 429]


async def test_guessed_keys_count_against_the_address(limited: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, _ = limited
    async with _from_address(app) as guesser:
        answers = [(await guesser.get("/v1/me", headers=auth(f"kkb_guess{n}_x"))).status_code for n in range(3)]
    assert answers == [401, 401, 429]


async def test_redis_down_lets_requests_through(
    limited: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    app, http = limited
    await load_demo_regions(session)
    key = await make_key(session, Role.VIEWER, "99")
    app.state.rate_limiter = RateLimiter(f"redis://127.0.0.1:{free_port()}/0", limits=LIMITS)
    with caplog.at_level(logging.WARNING, logger="registry_api.auth.limits"):
        answers = [(await http.get("/v1/me", headers=auth(key))).status_code for _ in range(5)]
    assert answers == [200] * 5
    assert "rate limits not applied" in caplog.text


class _Clock:
    """The limiter's clock (its module's `time`), moved on by the test: `monotonic` where the test puts it, `time`
    the real one (the windows' reset). The skip window is pinned to its edge without waiting or timing anything."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()


async def test_after_redis_fails_the_limiter_skips_it_for_5_s_then_tries_again(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Redis of its own, stopped under the app's own limiter: the first request after tries Redis, fails, is let
    through and logs once; the requests of the next 5 s pass without trying Redis; the first one 5 s after the
    failure tries it again. Redis back, the limits apply again. Each try of a Redis that is down logs one warning,
    so the warnings count the tries."""
    port = free_port()
    redis = RedisServer(tmp_path / "redis", port).start()
    clock = _Clock()
    monkeypatch.setattr(limiter_module, "time", clock)
    fresh = {"redis_url": redis.url, "rate_limits": LIMITS, "rate_limit_prefix": f"test-{uuid.uuid4().hex}"}
    try:
        async with app_client(settings.model_copy(update=fresh), session_factory) as (_, http):
            await load_demo_regions(session)
            key = await make_key(session, Role.VIEWER, "99")

            async def me() -> int:
                return (await http.get("/v1/me", headers=auth(key))).status_code

            def tries() -> int:
                return sum("rate limits not applied" in record.getMessage() for record in caplog.records)

            assert [await me() for _ in range(3)] == [200, 200, 200]  # counted: the limit of reads is 3
            redis.stop()
            with caplog.at_level(logging.WARNING, logger="registry_api.auth.limits"):
                assert await me() == 200, "a request failed for Redis"
                assert tries() == 1
                clock.now += 4.9
                assert [await me() for _ in range(5)] == [200] * 5
                assert tries() == 1, "Redis tried again within 5 s of the failure"
                clock.now += 0.1
                assert await me() == 200
                assert tries() == 2, "Redis not tried again 5 s after the failure"
                assert [await me() for _ in range(3)] == [200] * 3
                assert tries() == 2, "Redis tried again within 5 s of the second failure"
            redis = RedisServer(tmp_path / "redis-again", port).start()  # empty: no count of before
            clock.now += 5.0
            assert [await me() for _ in range(4)] == [200, 200, 200, 429], "the limits apply again"
    finally:
        redis.stop()
