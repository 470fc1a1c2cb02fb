"""Each write rule through both ways in: the single-record API (`PUT`, `POST`, `PATCH`) and the bulk import.

Black-box over HTTP: the app in-process on the test's rolled-back transaction, with the import runner and the real
classifier process of `tests/imports`, so that these tests hold whatever the write path becomes inside.
"""

from typing import Any

from tests.factories import auth
from tests.imports.conftest import Api, api, settings

__all__ = ["api", "kampung_at", "revisions", "row_errors", "settings"]


async def kampung_at(api: Api, wilayah: str) -> list[dict[str, Any]]:
    """The active Kampung KB under a region code (a desa's: at most one), as `GET /v1/kampung` lists them."""
    response = await api.http.get("/v1/kampung", params={"wilayah": wilayah}, headers=auth(api.admin))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def revisions(api: Api, kampung_id: int, module: str, period: str) -> list[int]:
    """The revision numbers `/revisions` lists for a submission, newest first."""
    url = f"/v1/kampung/{kampung_id}/{module}/{period}/revisions"
    response = await api.http.get(url, headers=auth(api.admin))
    assert response.status_code == 200, response.text
    return [item["revision"] for item in response.json()]


def row_errors(job: dict[str, Any]) -> set[tuple[int, str, str]]:
    """An import job's errors as (row, field, kind)."""
    return {(error["row"], error["field"], error["kind"]) for error in job["errors"]}
