"""The cost of authentication per request, in µs of CPU of the registry process (in-process, one caller at a time):
an API key (hash, one statement to PostgreSQL, the principal built), a bearer token of an OpenID Connect provider
(the signature and claims checked; its keys fetched once and cached), and the rate-limit count in Redis.

Run: `.venv/bin/python bench/bench_auth.py`. Starts embedded PostgreSQL and Redis in a temporary folder; no services.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from stack import local_stack

from kampungkb_local.demo import demo_regions, to_csv
from registry_api.auth.limits import RateLimiter
from registry_api.auth.oidc import OidcVerifier
from registry_api.auth.service import authenticate
from registry_api.db import create_engine, create_sessionmaker

N = 5_000
WARMUP = 200
ISSUER = "https://sso.example.test/realms/bkkbn"


def provider(key: rsa.RSAPrivateKey) -> httpx.MockTransport:
    """The provider's discovery and JWKS, answered in-process: only the first token fetches them."""
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "alg": "RS256", "use": "sig"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/certs"})
        return httpx.Response(200, json={"keys": [jwk]})

    return httpx.MockTransport(answer)


async def per_call(work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(µs of CPU, µs of wall time) per call, after a warm-up."""
    for _ in range(WARMUP):
        await work()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(N):
        await work()
    return (time.process_time() - cpu) / N * 1e6, (time.perf_counter() - wall) / N * 1e6


async def measure(database_url: str, redis_url: str, api_key: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": ISSUER, "aud": "kampungkb-registry", "sub": "u1", "exp": int(time.time()) + 3600}
    token = jwt.encode(
        {**claims, "kampungkb_role": "kabupaten", "kampungkb_scope": "99.01"},
        key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    async with httpx.AsyncClient(transport=provider(key)) as http:
        verifier = OidcVerifier(
            http=http,
            issuer=ISSUER,
            audience="kampungkb-registry",
            algorithms=["RS256"],
            role_claim="kampungkb_role",
            scope_claim="kampungkb_scope",
            name_claim="name",
            jwks_ttl_s=3600,
            jwks_refetch_s=30,
            leeway_s=30,
        )
        limiter = RateLimiter(redis_url, limits={"read": "100000000/minute"}, prefix="bench-auth")
        try:
            async with create_sessionmaker(engine)() as session:
                results = {
                    "API key (one statement to PostgreSQL)": await per_call(lambda: authenticate(session, api_key)),
                    "JWT RS256 (signature and claims; keys cached)": await per_call(lambda: verifier.verify(token)),
                    "rate-limit count (one Redis round trip)": await per_call(lambda: limiter.check("read", "p1")),
                }
                await session.rollback()
        finally:
            await engine.dispose()
    print(f"authentication per request, {N} calls each, in-process, one at a time:")
    for what, (cpu, wall) in results.items():
        print(f"  {what:48s} {cpu:7.1f} µs CPU  {wall:7.1f} µs wall")


def main() -> None:
    regions = to_csv(demo_regions())
    with local_stack("auth", regions_csv=regions, services=()) as stack:
        asyncio.run(measure(stack.database_url, stack.redis_url, stack.key))


if __name__ == "__main__":
    main()
