"""What a key may export: its own scope, narrowed by `wilayah`, never widened; bad parameters are 4xx, never a 500."""

import csv
import io

import pytest

from registry_api.auth.service import Role
from tests.exports.conftest import Registry
from tests.exports.test_round_trip import kampung_file
from tests.factories import auth
from tests.imports.files import DESA, KEPENDUDUKAN_COLUMNS, PERIOD, kependudukan_row, to_csv

KABUPATEN = "99.01"
KOTA_DESA = [code for code in DESA if code.startswith("99.71.")]


def desa_of(text: str) -> list[str]:
    return [row["desa_code"] for row in csv.DictReader(io.StringIO(text))]


@pytest.fixture
async def month(registry: Registry) -> Registry:
    await registry.imported("kampung", kampung_file(DESA), period=None)
    job = await registry.imported("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in DESA]))
    assert job["rows_inserted"] == len(DESA), job
    return registry


async def test_a_region_key_reads_its_region_and_may_narrow_it(month: Registry) -> None:
    key = await month.key(Role.VIEWER, KABUPATEN)
    whole = await month.export("kependudukan", key=key, period=PERIOD)
    assert whole.status_code == 200, whole.text
    assert desa_of(whole.text) == sorted(c for c in DESA if c.startswith(KABUPATEN + "."))
    narrow = await month.export("kependudukan", key=key, period=PERIOD, wilayah="99.01.01")
    assert desa_of(narrow.text) == sorted(c for c in DESA if c.startswith("99.01.01."))
    for outside in ("99.71", "00", "99"):
        response = await month.export("kependudukan", key=key, period=PERIOD, wilayah=outside)
        assert response.status_code == 403, (outside, response.text)
    nation = await month.export("kependudukan", period=PERIOD)
    assert desa_of(nation.text) == sorted(DESA)
    kota = await month.export("kependudukan", period=PERIOD, wilayah="99.71")
    assert desa_of(kota.text) == sorted(KOTA_DESA)


async def test_a_kampung_key_reads_its_own_row_only(month: Registry) -> None:
    own = await month.value("SELECT id FROM kampung WHERE desa_code = $1", KOTA_DESA[2])
    key = await month.key(Role.OPERATOR, f"kampung:{own}")
    for module in ("kampung", "kependudukan"):
        response = await month.export(module, key=key, period=PERIOD)
        assert response.status_code == 200, response.text
        assert desa_of(response.text) == [KOTA_DESA[2]]
    inside = await month.export("kependudukan", key=key, period=PERIOD, wilayah="99.71")
    assert desa_of(inside.text) == [KOTA_DESA[2]]
    outside = await month.export("kependudukan", key=key, period=PERIOD, wilayah="99.01")
    assert outside.status_code == 403, outside.text


async def test_an_export_needs_a_key(registry: Registry) -> None:
    response = await registry.http.get("/v1/exports/kampung")
    assert response.status_code == 401
    revoked = await registry.http.get("/v1/exports/kampung", headers=auth("kkb_nothing_here"))
    assert revoked.status_code == 401


@pytest.mark.parametrize(
    ("module", "params", "status", "field"),
    [
        ("profil", {}, 422, "period"),
        ("profil", {"period": "2024-13"}, 422, "period"),
        ("kampung", {"period": "9999-12"}, 422, "period"),  # its next month is past the calendar's end
        ("profil", {"period": "0001-01"}, 422, "period"),
        ("profil", {"period": PERIOD, "format": "xlsx"}, 422, "format"),
        ("profil", {"period": PERIOD, "from_": "2024-01-01"}, 422, "from"),
        ("profil", {"period": PERIOD, "ruleset": "bkkbn-web-2021"}, 422, "ruleset"),
        ("kegiatan", {"period": PERIOD}, 422, "period"),
        ("kegiatan", {"from_": "2024-06-02", "to": "2024-06-01"}, 422, "to"),
        ("kegiatan", {"from_": "yesterday"}, 422, "from"),
        ("classifications", {"period": PERIOD, "ruleset": "no-such-rules"}, 422, "ruleset"),
        ("nothing", {"period": PERIOD}, 422, "module"),
        ("profil", {"period": PERIOD, "wilayah": "99.x"}, 422, "wilayah"),
        ("profil", {"period": PERIOD, "wilayah": "98.01"}, 404, None),
    ],
)
async def test_bad_parameters_are_named(
    registry: Registry, module: str, params: dict[str, str], status: int, field: str | None
) -> None:
    response = await registry.export(module, **params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        assert field in response.text
