"""Bearer tokens (JWT) of an OpenID Connect provider, beside API keys.

Discovery (`<issuer>/.well-known/openid-configuration`) and the provider's JWKS are fetched over HTTP and cached.
A token signed with a key id the cache does not hold makes one refetch of the JWKS (at most one per
`oidc_jwks_refetch_s`), so a key rotation at the provider is followed without a restart, and a flood of tokens with
made-up key ids cannot make the registry hammer the provider. The signature, `iss`, `aud`, `exp` and `nbf` are
checked by PyJWT with the algorithms of the settings only (never `none`); role and scope come from configurable
claims and must agree as a key's do.
"""

import asyncio
import datetime as dt
import logging
import time
from typing import Any

import httpx
import jwt

from kampungkb_shared.errors import AppError, Unauthorized
from registry_api.auth.service import Principal, PrincipalKind, Role, check_coherent

log = logging.getLogger(__name__)


class OidcVerifier:
    """Checks bearer tokens of one issuer for one audience; the JWKS cached, refetched on an unknown key id."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        issuer: str,
        audience: str,
        algorithms: list[str],
        role_claim: str,
        scope_claim: str,
        name_claim: str,
        jwks_ttl_s: float,
        jwks_refetch_s: float,
        leeway_s: float,
    ) -> None:
        self._http = http
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.algorithms = [alg for alg in algorithms if alg.lower() != "none"]
        self.role_claim, self.scope_claim, self.name_claim = role_claim, scope_claim, name_claim
        self._ttl_s, self._refetch_s, self._leeway_s = jwks_ttl_s, jwks_refetch_s, leeway_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._jwks_uri: str | None = None
        self._lock = asyncio.Lock()

    async def _discover(self) -> str:
        if self._jwks_uri is None:
            response = await self._http.get(f"{self.issuer}/.well-known/openid-configuration")
            response.raise_for_status()
            document = response.json()
            if document.get("issuer", "").rstrip("/") != self.issuer:
                raise ValueError(f"the discovery document names issuer {document.get('issuer')!r}")
            self._jwks_uri = str(document["jwks_uri"])
        return self._jwks_uri

    async def _refresh(self, *, unless_since: float) -> None:
        async with self._lock:
            if self._fetched_at > unless_since:  # another request refreshed it while this one waited
                return
            self._fetched_at = time.monotonic()  # a failed fetch counts too: it is not retried at once
            response = await self._http.get(await self._discover())
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
            self._keys = {key.key_id: key for key in keys if key.key_id}
            log.info("JWKS of %s fetched: key ids %s", self.issuer, sorted(self._keys))

    async def _signing_key(self, kid: str) -> jwt.PyJWK:
        now = time.monotonic()
        stale = now - self._fetched_at > self._ttl_s
        if stale or (kid not in self._keys and now - self._fetched_at >= self._refetch_s):
            try:
                await self._refresh(unless_since=now - min(self._refetch_s, self._ttl_s))
            except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWKError) as exc:
                log.warning("JWKS of %s could not be fetched: %s", self.issuer, exc)
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("bearer token signed with a key the identity provider does not publish")
        return key

    async def verify(self, token: str) -> Principal:
        """The principal a token names; 401 for a bad signature, issuer, audience, time, algorithm or claims."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"malformed bearer token: {exc}") from exc
        if header.get("alg") not in self.algorithms:
            raise Unauthorized(f"bearer token algorithm {header.get('alg')!r} is not accepted")
        key = await self._signing_key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid bearer token: {exc}") from exc
        try:
            role = Role(str(claims.get(self.role_claim)))
            scope = str(claims.get(self.scope_claim))
            check_coherent(role=role, scope=scope)
        except (ValueError, AppError) as exc:
            raise Unauthorized(
                f"bearer token claims {self.role_claim}/{self.scope_claim} are not a role and scope that agree"
            ) from exc
        return Principal(
            name=str(claims.get(self.name_claim) or claims["sub"]),
            role=role,
            scope=scope,
            kind=PrincipalKind.PERSON,
            subject=str(claims["sub"]),
            expires_at=dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC),
        )
