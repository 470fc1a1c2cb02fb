"""Every route of the OpenAPI document, called by keys of each role and scope, against the decision kept below; each
answer is a status the document declares for the route.

A route without a row in `EXPECTED` fails the test: each new route needs a decision on who may call it. Every call
runs inside a savepoint rolled back afterwards, so each caller meets the same data.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from kampungkb_local.demo import demo_regions, to_csv
from registry_api.auth.service import Role, create_key
from tests.factories import (
    DEMO_KELURAHAN,
    auth,
    kependudukan_payload,
    kkbpk_payload,
    load_demo_regions,
    make_kampung,
    make_kegiatan,
    make_key,
    profil_payload,
    put_module,
)

# Callers, in the column order of EXPECTED. The target Kampung KB lies in desa 99.01.01.2001 (kabupaten 99.01); the
# other one in kelurahan 99.71.01.1001 (kota 99.71).
CALLERS = (
    "anonymous",
    "admin",
    "provinsi",
    "kabupaten",
    "kab_other",
    "kecamatan",
    "integration",
    "operator",
    "op_other",
    "viewer",
    "view_other",
)

# fmt: off
EXPECTED: dict[str, str] = {
    #                                                 ano adm prv kab k-o kec int op  o-o vie v-o
    "GET /healthz":                                  "200 200 200 200 200 200 200 200 200 200 200",
    "GET /readyz":                                   "200 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/me":                                    "401 200 200 200 200 200 200 200 200 200 200",
    "POST /v1/keys":                                 "401 201 201 201 403 403 201 403 403 403 403",
    "GET /v1/keys":                                  "401 200 200 200 200 200 200 200 200 200 200",
    "DELETE /v1/keys/{prefix}":                      "401 204 204 204 404 404 204 404 404 404 404",
    "POST /v1/keys/{prefix}/rotate":                 "401 201 201 201 404 404 201 404 404 404 404",
    "POST /v1/enrolments":                           "401 201 201 201 404 201 403 403 403 403 403",
    "GET /v1/enrolments/{code}/qr.svg":              "200 200 200 200 200 200 200 200 200 200 200",
    "POST /v1/enrol":                                "200 200 200 200 200 200 200 200 200 200 200",
    "POST /v1/wilayah/import":                       "401 200 403 403 403 403 403 403 403 403 403",
    "GET /v1/wilayah/{code}":                        "200 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/wilayah":                               "200 200 200 200 200 200 200 200 200 200 200",
    "POST /v1/kampung":                              "401 201 201 201 403 201 201 403 403 403 403",
    "GET /v1/kampung":                               "401 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/kampung/{kampung_id}":                  "401 200 200 200 404 200 200 200 404 200 404",
    "PATCH /v1/kampung/{kampung_id}":                "401 200 200 200 403 200 200 200 403 403 403",
    "GET /v1/kampung/{kampung_id}/in-force":         "401 200 200 200 404 200 200 200 404 200 404",
    "PUT /v1/kampung/{kampung_id}/percontohan":      "401 200 200 403 403 403 403 403 403 403 403",
    "DELETE /v1/kampung/{kampung_id}/percontohan/{level}": "401 200 200 403 403 403 403 403 403 403 403",
    "PUT /v1/kampung/{kampung_id}/profil/{period}":  "401 201 201 201 403 201 201 201 403 403 403",
    "PUT /v1/kampung/{kampung_id}/kependudukan/{period}": "401 200 200 200 403 200 200 200 403 403 403",
    "PUT /v1/kampung/{kampung_id}/kkbpk/{period}":   "401 201 201 201 403 201 201 201 403 403 403",
    "PUT /v1/kampung/{kampung_id}/periods/{period}": "401 200 200 200 403 200 200 200 403 403 403",
    "GET /v1/kampung/{kampung_id}/submissions":      "401 200 200 200 404 200 200 200 404 200 404",
    "POST /v1/kampung/{kampung_id}/kegiatan":        "401 201 201 201 403 201 201 201 403 403 403",
    "GET /v1/kampung/{kampung_id}/kegiatan":         "401 200 200 200 404 200 200 200 404 200 404",
    "GET /v1/kampung/{kampung_id}/kegiatan/{kegiatan_id}": "401 200 200 200 404 200 200 200 404 200 404",
    "GET /v1/kampung/{kampung_id}/{module}/{period}": "401 200 200 200 404 200 200 200 404 200 404",
    "GET /v1/kampung/{kampung_id}/{module}/{period}/revisions": "401 200 200 200 404 200 200 200 404 200 404",
    "GET /v1/kampung/{kampung_id}/classification":   "401 200 200 200 404 200 200 200 404 200 404",
    "POST /v1/imports":                              "401 202 202 202 202 202 202 202 202 403 403",
    "GET /v1/imports/{job_id}":                      "401 200 404 404 404 404 404 404 404 200 404",
    "GET /v1/reports/{code}":                        "404 404 404 404 404 404 404 404 404 404 404",
    "GET /v1/reports/{code}/trend":                  "200 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/reports/{code}/export":                 "404 404 404 404 404 404 404 404 404 404 404",
    "GET /v1/reports/{code}/charts/{chart}.svg":     "404 404 404 404 404 404 404 404 404 404 404",
    "GET /v1/targets/{code}/{year}":                 "404 404 404 404 404 404 404 404 404 404 404",
    "PUT /v1/targets/{code}/{year}":                 "401 200 200 200 403 403 403 403 403 403 403",
    "PUT /v1/approvals/{code}/{period}":             "401 200 200 200 403 200 403 403 403 403 403",
    "DELETE /v1/approvals/{code}/{period}":          "401 200 200 200 403 200 403 403 403 403 403",
    "GET /v1/approvals/{code}":                      "200 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/changes":                               "401 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/changes/head":                          "401 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/codes":                                 "200 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/codes/{list}":                          "200 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/rulesets":                              "200 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/exports/{module}":                      "401 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/reports/{code}/reporting":              "401 200 200 200 404 404 200 404 404 200 404",
    "GET /v1/quality/{code}":                        "401 200 200 200 404 200 200 200 200 200 404",
    "PUT /v1/quality/flags/{flag_id}/check":         "401 404 404 404 404 404 403 403 403 403 403",
    "DELETE /v1/quality/flags/{flag_id}/check":      "401 404 404 404 404 404 403 403 403 403 403",
    "GET /v1/reports/{code}/ranking":                "200 200 200 200 200 200 200 200 200 200 200",
    "POST /v1/webhooks":                             "401 201 201 201 201 201 201 201 201 201 201",
    "GET /v1/webhooks":                              "401 200 200 200 200 200 200 200 200 200 200",
    "GET /v1/webhooks/{webhook_id}":                 "401 200 404 404 404 404 404 404 404 404 404",
    "DELETE /v1/webhooks/{webhook_id}":              "401 204 404 404 404 404 404 404 404 404 404",
    "GET /v1/webhooks/{webhook_id}/deliveries":      "401 200 404 404 404 404 404 404 404 404 404",
    "POST /v1/webhooks/{webhook_id}/replay":         "401 200 404 404 404 404 404 404 404 404 404",
    "POST /v1/webhooks/{webhook_id}/enable":         "401 200 404 404 404 404 404 404 404 404 404",
}
# fmt: on


@dataclass
class World:
    keys: dict[str, str | None]
    kampung_id: int
    job_id: int
    key_prefix: str
    enrolment_code: str
    webhook_id: int
    kegiatan_id: int


Call = Callable[[World], dict[str, Any]]

CSV = b"desa_code,pus,families,remaja,families_with_balita,families_with_remaja,families_with_lansia\n"

# What each route is called with: path parameters, query, body (all valid, so that the caller decides the answer).
CALLS: dict[str, Call] = {
    "POST /v1/keys": lambda w: {
        "json": {"name": "x", "kind": "person", "role": "viewer", "scope": "99.01", "expires_in_days": 30}
    },
    "DELETE /v1/keys/{prefix}": lambda w: {"path": {"prefix": w.key_prefix}},
    "POST /v1/keys/{prefix}/rotate": lambda w: {"path": {"prefix": w.key_prefix}, "json": {}},
    "POST /v1/enrolments": lambda w: {"json": {"kampung_id": w.kampung_id, "name": "HP kader"}},
    "GET /v1/enrolments/{code}/qr.svg": lambda w: {"path": {"code": w.enrolment_code}},
    "POST /v1/enrol": lambda w: {"json": {"code": w.enrolment_code, "device_name": "HP 1"}},
    "POST /v1/wilayah/import": lambda w: {"content": to_csv(demo_regions()), "headers": {"Content-Type": "text/csv"}},
    "GET /v1/wilayah/{code}": lambda w: {"path": {"code": "99"}},
    "GET /v1/codes/{list}": lambda w: {"path": {"list": "poktan"}},
    "GET /v1/exports/{module}": lambda w: {"path": {"module": "kampung"}},
    "GET /v1/quality/{code}": lambda w: {"path": {"code": "99.01"}, "params": {"period": "2024-01"}},
    "PUT /v1/quality/flags/{flag_id}/check": lambda w: {"path": {"flag_id": 1}, "json": {"note": "diperiksa"}},
    "DELETE /v1/quality/flags/{flag_id}/check": lambda w: {"path": {"flag_id": 1}},
    "GET /v1/reports/{code}/ranking": lambda w: {"path": {"code": "99"}, "params": {"year": 2024}},
    "GET /v1/reports/{code}/reporting": lambda w: {"path": {"code": "99.01"}, "params": {"period": "2024-01"}},
    "POST /v1/kampung": lambda w: {"json": {"name": "Baru", "desa_code": "99.01.01.2002", "formed_on": "2021-01-01"}},
    "PATCH /v1/kampung/{kampung_id}": lambda w: {"json": {"name": "Nama baru"}},
    "PUT /v1/kampung/{kampung_id}/percontohan": lambda w: {"json": {"level": "kabupaten"}},
    "DELETE /v1/kampung/{kampung_id}/percontohan/{level}": lambda w: {"path": {"level": "kabupaten"}},
    "PUT /v1/kampung/{kampung_id}/profil/{period}": lambda w: {"json": profil_payload()},
    "PUT /v1/kampung/{kampung_id}/kependudukan/{period}": lambda w: {"json": kependudukan_payload()},
    "PUT /v1/kampung/{kampung_id}/kkbpk/{period}": lambda w: {"json": kkbpk_payload()},
    "PUT /v1/kampung/{kampung_id}/periods/{period}": lambda w: {"json": {"profil": profil_payload()}},
    "POST /v1/kampung/{kampung_id}/kegiatan": lambda w: {
        "json": {"title": "Penyuluhan", "date": "2024-01-10", "function": "REPRODUKSI", "partners": ["LAINNYA"]}
    },
    "GET /v1/kampung/{kampung_id}/{module}/{period}": lambda w: {"path": {"module": "kependudukan"}},
    "GET /v1/kampung/{kampung_id}/{module}/{period}/revisions": lambda w: {"path": {"module": "kependudukan"}},
    "POST /v1/imports": lambda w: {
        "params": {"module": "kependudukan", "period": "2024-02"},
        "content": CSV + b"99.01.01.2001,100,150,60,40,35,30\n",
        "headers": {"Content-Type": "text/csv"},
    },
    "GET /v1/imports/{job_id}": lambda w: {"path": {"job_id": w.job_id}},
    "GET /v1/reports/{code}": lambda w: {"path": {"code": "99"}, "params": {"period": "2024-01"}},
    "GET /v1/reports/{code}/trend": lambda w: {"path": {"code": "99"}},
    "GET /v1/reports/{code}/export": lambda w: {"path": {"code": "99"}, "params": {"period": "2024-01"}},
    "GET /v1/reports/{code}/charts/{chart}.svg": lambda w: {
        "path": {"code": "99", "chart": "tiers"},
        "params": {"period": "2024-01"},
    },
    "GET /v1/targets/{code}/{year}": lambda w: {"path": {"code": "99.01", "year": 2025}},
    "POST /v1/webhooks": lambda w: {"json": {"url": "https://8.8.8.8/hook"}},
    "POST /v1/webhooks/{webhook_id}/replay": lambda w: {"params": {"after": "0-0"}},
    "PUT /v1/approvals/{code}/{period}": lambda w: {"path": {"code": "99.01.01"}},
    "DELETE /v1/approvals/{code}/{period}": lambda w: {"path": {"code": "99.01.01"}},
    "GET /v1/approvals/{code}": lambda w: {"path": {"code": "99.01"}, "params": {"period": "2024-01"}},
    "PUT /v1/targets/{code}/{year}": lambda w: {"path": {"code": "99.01", "year": 2025}, "json": {"formation_pct": 70}},
}


def _request(route: str, world: World, caller: str) -> dict[str, Any]:
    method, template = route.split(" ", 1)
    spec = CALLS.get(route, lambda w: {})(world)
    path = {
        "kampung_id": world.kampung_id,
        "period": "2024-01",
        "webhook_id": world.webhook_id,
        "kegiatan_id": world.kegiatan_id,
        **spec.pop("path", {}),
    }
    key = world.keys[caller]
    headers = {**(auth(key) if key else {}), **spec.pop("headers", {})}
    return {"method": method, "url": template.format(**path), "headers": headers, **spec}


@pytest.fixture
async def world(client: httpx.AsyncClient, session: AsyncSession) -> World:
    await load_demo_regions(session)
    admin = await make_key(session)
    target = (await make_kampung(client, admin))["id"]
    other = (await make_kampung(client, admin, DEMO_KELURAHAN))["id"]
    keys: dict[str, str | None] = {
        "anonymous": None,
        "admin": admin,
        "provinsi": await make_key(session, Role.PROVINSI, "99"),
        "kabupaten": await make_key(session, Role.KABUPATEN, "99.01"),
        "kab_other": await make_key(session, Role.KABUPATEN, "99.71"),
        "kecamatan": await make_key(session, Role.KECAMATAN, "99.01.01"),
        "integration": await make_key(session, Role.INTEGRATION, "99"),
        "operator": await make_key(session, Role.OPERATOR, f"kampung:{target}"),
        "op_other": await make_key(session, Role.OPERATOR, f"kampung:{other}"),
        "viewer": await make_key(session, Role.VIEWER, "00"),
        "view_other": await make_key(session, Role.VIEWER, "99.71"),
    }
    written = await put_module(client, admin, target, "kependudukan", "2024-01", kependudukan_payload())
    assert written.status_code == 201, written.text
    job = await client.post(
        "/v1/imports",
        params={"module": "kependudukan", "period": "2024-03"},
        content=CSV + b"99.01.01.2001,100,150,60,40,35,30\n",
        headers={**auth(admin), "Content-Type": "text/csv"},
    )
    assert job.status_code == 202, job.text
    managed, _ = await create_key(session, name="managed", role=Role.VIEWER, scope="99.01")
    await session.commit()
    enrolment = await client.post("/v1/enrolments", json={"kampung_id": target, "name": "HP"}, headers=auth(admin))
    assert enrolment.status_code == 201, enrolment.text
    webhook = await client.post("/v1/webhooks", json={"url": "https://8.8.8.8/hook"}, headers=auth(admin))
    assert webhook.status_code == 201, webhook.text
    kegiatan = await make_kegiatan(client, admin, target, "2024-01-10", ["PUSKESMAS"])
    assert kegiatan.status_code == 201, kegiatan.text
    return World(
        keys,
        target,
        job.json()["id"],
        managed.prefix,
        enrolment.json()["code"],
        webhook.json()["id"],
        kegiatan.json()["id"],
    )


async def test_every_route_has_a_decision(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    routes = {f"{method.upper()} {path}" for path, operations in document["paths"].items() for method in operations}
    assert routes - EXPECTED.keys() == set(), "routes without a decision on who may call them"
    assert EXPECTED.keys() - routes == set(), "decisions about routes that no longer exist"


async def test_every_route_answers_each_caller_as_decided(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    connection: AsyncConnection = session_factory.kw["bind"]
    document = (await client.get("/openapi.json")).json()
    declared = {
        f"{method.upper()} {path}": operation["responses"].keys()
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    wrong: list[str] = []
    for route, row in EXPECTED.items():
        for caller, expected in zip(CALLERS, row.split(), strict=True):
            savepoint = await connection.begin_nested()
            try:
                response = await client.request(**_request(route, world, caller))
            finally:
                await savepoint.rollback()
            if response.status_code != int(expected):
                wrong.append(f"{route} as {caller}: {response.status_code}, expected {expected}: {response.text[:200]}")
            elif response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json", route
            assert str(response.status_code) in declared[route], f"{route} as {caller}: {response.status_code}"
    assert not wrong, "\n".join(wrong)
