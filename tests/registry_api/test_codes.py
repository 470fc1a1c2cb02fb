"""Code lists with labels, rule sets from the classifier, `304 Not Modified` and gzip: what keeps a phone cheap."""

import gzip

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_shared.code_labels import CODE_LISTS
from registry_api.codes.rulesets import RulesetCatalogue
from tests.factories import auth, kependudukan_payload, put_module
from tests.registry_api.conftest import app_client, registry_settings


async def test_every_list_with_both_labels(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/codes")
    assert response.status_code == 200
    lists = response.json()["lists"]
    assert [item["name"] for item in lists] == list(CODE_LISTS)
    for item in lists:
        enum = CODE_LISTS[item["name"]]
        assert [code["code"] for code in item["codes"]] == [member.value for member in enum]
        assert all(code["label_id"] and code["label_en"] for code in item["codes"])
    contraception = (await client.get("/v1/codes/contraception")).json()
    assert contraception["codes"][1] == {"code": "KB_MOW", "label_id": "MOW", "label_en": "Female sterilisation (MOW)"}


async def test_unknown_list_is_a_not_found_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/codes/nothing")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"
    assert "contraception" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/v1/codes", "/v1/codes/instansi"])
async def test_code_lists_answer_304_to_their_etag(client: httpx.AsyncClient, path: str) -> None:
    first = await client.get(path)
    tag = first.headers["etag"]
    again = await client.get(path, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    assert (await client.get(path, headers={"If-None-Match": f"W/{tag}"})).status_code == 304
    other = await client.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


async def test_kampung_and_submission_reads_answer_304_until_they_change(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    url = f"/v1/kampung/{kampung_id}"
    tag = (await client.get(url, headers=auth(admin))).headers["etag"]
    unchanged = await client.get(url, headers={**auth(admin), "If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    await client.patch(url, json={"name": "Kampung KB Baru"}, headers=auth(admin))
    changed = await client.get(url, headers={**auth(admin), "If-None-Match": tag})
    assert changed.status_code == 200 and changed.json()["name"] == "Kampung KB Baru"
    assert changed.headers["etag"] != tag

    written = await put_module(client, admin, kampung_id, "kependudukan", "2025-01", kependudukan_payload())
    submission = f"/v1/kampung/{kampung_id}/kependudukan/2025-01"
    tag = written.headers["etag"]
    assert (await client.get(submission, headers={**auth(admin), "If-None-Match": tag})).status_code == 304
    await put_module(client, admin, kampung_id, "kependudukan", "2025-01", kependudukan_payload(pus=90))
    assert (await client.get(submission, headers={**auth(admin), "If-None-Match": tag})).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/v1/wilayah/99.01",
        "/v1/me",
        "/v1/reports/99.01/reporting?period=2025-01",
        "/v1/kampung/{kampung_id}/classification?period=2025-01",
        "/v1/kampung?wilayah=99",
    ],
)
async def test_every_read_answered_whole_answers_304_to_its_tag(
    client: httpx.AsyncClient, admin: str, kampung_id: int, path: str
) -> None:
    """Reads without a version number are tagged by their content: the tag moves when the answer does."""
    await put_module(client, admin, kampung_id, "kependudukan", "2025-01", kependudukan_payload(pus=80))
    url = path.format(kampung_id=kampung_id)
    first = await client.get(url, headers=auth(admin))
    assert first.status_code == 200, first.text
    tag = first.headers["etag"]
    again = await client.get(url, headers={**auth(admin), "If-None-Match": tag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
    other = await client.get(url, headers={**auth(admin), "If-None-Match": '"something-else"'})
    assert (other.status_code, other.content) == (200, first.content)


async def test_a_changed_answer_has_another_tag_and_a_streamed_one_none(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    await put_module(client, admin, kampung_id, "kependudukan", "2025-01", kependudukan_payload(pus=80))
    url = f"/v1/kampung/{kampung_id}/classification?period=2025-01"
    tag = (await client.get(url, headers=auth(admin))).headers["etag"]
    await put_module(client, admin, kampung_id, "kependudukan", "2025-01", kependudukan_payload(pus=90))
    changed = await client.get(url, headers={**auth(admin), "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    streamed = await client.get("/v1/exports/kependudukan?period=2025-01", headers=auth(admin))
    assert streamed.status_code == 200 and "etag" not in streamed.headers
    head = await client.head("/v1/wilayah/99.01", headers=auth(admin))
    assert head.status_code in (200, 405) and "etag" not in head.headers


async def test_a_write_with_if_none_match_is_not_turned_into_a_304(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    first = await put_module(client, admin, kampung_id, "kependudukan", "2025-02", kependudukan_payload())
    tag = first.headers["etag"]
    again = await put_module(
        client, admin, kampung_id, "kependudukan", "2025-02", kependudukan_payload(pus=90), **{"If-None-Match": tag}
    )
    assert first.status_code == 201 and again.status_code != 304
    assert (await client.get(f"/v1/kampung/{kampung_id}/kependudukan/2025-02", headers=auth(admin))).status_code == 200


async def test_large_responses_are_gzipped_when_asked_small_ones_never(client: httpx.AsyncClient) -> None:
    async with client.stream("GET", "/v1/codes", headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.headers["content-encoding"] == "gzip"
    plain = (await client.get("/v1/codes", headers={"Accept-Encoding": "identity"})).content
    assert "content-encoding" not in (await client.get("/v1/codes", headers={"Accept-Encoding": "identity"})).headers
    assert gzip.decompress(raw) == plain and len(raw) * 2 < len(plain)
    small = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


async def test_rulesets_come_from_the_classifier(client: httpx.AsyncClient, classifier_url: str) -> None:
    response = await client.get("/v1/rulesets")
    assert response.status_code == 200
    served = response.json()
    async with httpx.AsyncClient() as http:
        direct = (await http.get(f"{classifier_url}/v1/rulesets")).json()
    assert served == direct and {"bkkbn-web-2021", "kkb-2025"} <= {r["id"] for r in served}


async def test_rulesets_unreachable_and_never_fetched_is_503(
    database_url: str,
    redis_url: str,
    dead_url: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    settings = registry_settings(database_url, redis_url, dead_url)
    async with app_client(settings, session_factory) as (_, http):
        response = await http.get("/v1/rulesets")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/unavailable" and response.headers["retry-after"] == "5"


async def test_rulesets_cached_are_served_while_the_classifier_is_down(classifier_url: str, dead_url: str) -> None:
    async with httpx.AsyncClient(base_url=classifier_url) as http:
        catalogue = RulesetCatalogue(http, cache_s=0)
        fetched = await catalogue.rulesets()
        http.base_url = httpx.URL(dead_url)
        assert await catalogue.rulesets() == fetched
        assert fetched and fetched[0].id
