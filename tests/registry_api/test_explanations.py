"""A classification is stored without its explanation and explained again on read: for real classifications, what the
registry serves is what the classifier answers for the same snapshot directly, under the content it was computed
with, an older version of a rule set included."""

from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from classifier.inputs import from_model
from classifier.ruleset import RuleSet
from classifier.scoring import score
from kampungkb_shared.classification import Snapshot
from kampungkb_shared.codes import OperationalItem
from kampungkb_shared.periods import format_period
from registry_api.classifications.client import classifier_session, create_classifier
from registry_api.classifications.explanations import explain
from registry_api.classifications.models import Classification
from registry_api.settings import Settings
from tests.factories import (
    DEMO_KELURAHAN,
    auth,
    kependudukan_payload,
    kkbpk_payload,
    make_kampung,
    make_kegiatan,
    profil_payload,
    put_module,
)

_REGISTRY_FIELDS = {"status", "kampung_id", "computed_at", "snapshot_hash", "snapshot"}


async def _varied(client: httpx.AsyncClient, key: str, kampung_id: int) -> int:
    """Months of one Kampung KB that score differently (full data, a weaker profil, partners, other kkbpk), and a
    second Kampung KB with a profil alone (not classified: data missing); returns the second one's id."""
    await put_module(client, key, kampung_id, "profil", "2024-01", profil_payload())
    await put_module(client, key, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    await put_module(client, key, kampung_id, "kkbpk", "2024-01", kkbpk_payload())
    await put_module(client, key, kampung_id, "profil", "2024-02", profil_payload(pokja={"exists": False}, poktan=[]))
    await make_kegiatan(client, key, kampung_id, "2024-03-10", ["DINAS_KESEHATAN", "PUSKESMAS"])
    strong = profil_payload(
        data_sources=["PK_PEMUTAKHIRAN_DATA", "DATA_RUTIN_BKKBN", "POTENSI_DESA", "DATA_SEKTORAL"],
        operational={item: "BULANAN" for item in OperationalItem},
    )
    await put_module(client, key, kampung_id, "profil", "2024-04", strong)
    await put_module(client, key, kampung_id, "kkbpk", "2024-05", kkbpk_payload(users=40, non_users=60))
    other = int((await make_kampung(client, key, desa_code=DEMO_KELURAHAN))["id"])
    await put_module(client, key, other, "profil", "2024-01", profil_payload())
    return other


async def _rows(session: AsyncSession) -> list[Classification]:
    query = select(Classification).order_by(Classification.kampung_id, Classification.period, Classification.ruleset)
    return list(await session.scalars(query.execution_options(populate_existing=True)))


def _without_registry_fields(read: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in read.items() if name not in _REGISTRY_FIELDS}


async def test_the_served_explanation_is_the_classifiers_own(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int, classifier_url: str
) -> None:
    other = await _varied(client, admin, kampung_id)
    rows = await _rows(session)
    assert len(rows) >= 12 and len({row.tier for row in rows}) >= 3 and other in {row.kampung_id for row in rows}
    async with httpx.AsyncClient(base_url=classifier_url) as http:
        for row in rows:
            direct = await http.post(
                "/v1/classify",
                json={"ruleset": row.ruleset, "period": format_period(row.period), "snapshot": row.snapshot.snapshot},
            )
            assert direct.status_code == 200, direct.text
            served = await client.get(
                f"/v1/kampung/{row.kampung_id}/classification",
                params={"ruleset": row.ruleset, "period": format_period(row.period)},
                headers=auth(admin),
            )
            assert served.status_code == 200, served.text
            assert _without_registry_fields(served.json()) == direct.json(), (row.kampung_id, row.period, row.ruleset)
            assert served.json()["snapshot"] == row.snapshot.snapshot


async def test_a_classification_under_an_older_rule_set_version_is_explained_under_that_version(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin: str,
    kampung_id: int,
    classifier_url: str,
    database_url: str,
) -> None:
    await _varied(client, admin, kampung_id)
    [(current_hash, content)] = (
        await session.execute(
            text("SELECT hash, CAST(content AS text) FROM ruleset_content WHERE name = 'kkb-2025' LIMIT 1")
        )
    ).all()
    # The same rule set as it was before a change of its content: another threshold, another hash.
    older = {**orjson.loads(content), "threshold": "2.50", "hash": "0" * 64}
    await session.execute(
        text("INSERT INTO ruleset_content (hash, name, content) VALUES (:hash, 'kkb-2025', CAST(:content AS jsonb))"),
        {"hash": older["hash"], "content": orjson.dumps(older).decode()},
    )
    await session.execute(
        update(Classification).where(Classification.ruleset == "kkb-2025").values(ruleset_hash=older["hash"])
    )
    rows = [row for row in await _rows(session) if row.ruleset == "kkb-2025"]
    settings = Settings(DATABASE_URL=database_url, classifier_url=classifier_url)  # type: ignore[call-arg]
    async with classifier_session(classifier_url) as http:
        explained = await explain(session, classifier=create_classifier(http, settings), rows=rows)
    then = RuleSet.model_validate(older)
    for row, read in zip(rows, explained, strict=True):
        expected = score(from_model(Snapshot.model_validate(row.snapshot.snapshot)), format_period(row.period), then)
        assert read.ruleset_hash == older["hash"] != current_hash
        derived = _without_registry_fields(read.model_dump(mode="json"))
        assert {k: v for k, v in derived.items() if k not in ("tier", "scores", "indices", "passed")} == {
            k: v for k, v in expected.items() if k not in ("tier", "scores", "indices", "passed")
        }
        assert read.threshold == 2.5


async def test_a_writes_answer_the_classifier_gave_is_what_a_read_derives_again(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    await put_module(client, admin, kampung_id, "profil", "2024-01", profil_payload())
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    written = (await put_module(client, admin, kampung_id, "kkbpk", "2024-01", kkbpk_payload())).json()
    read = await client.get(f"/v1/kampung/{kampung_id}/classification", headers=auth(admin))
    assert written["classification"]["next_tier"] is not None
    assert written["classification"] == read.json()


async def test_a_large_call_asks_for_results_without_the_explanation_and_stores_the_same(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin: str,
    kampung_id: int,
    classifier_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A write of one month asks for its two results with the explanation (its answer keeps them); a back-dated profil
    reclassifies ten months under both rule sets, 20 results, more than a write keeps, so its call asks without the
    explanation; what is stored and served is what the classifier gives with it."""
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    for month in range(1, 11):
        kkbpk = kkbpk_payload(users=40 + 5 * month, non_users=60 - 5 * month)
        assert (await put_module(client, admin, kampung_id, "kkbpk", f"2024-{month:02d}", kkbpk)).status_code == 201
    sent: list[dict[str, Any]] = []
    classifier = client._transport.app.state.classifier  # type: ignore[attr-defined]
    classify_lines = classifier.classify_lines

    async def keep(body: bytes, **options: Any) -> list[bytes]:
        sent.append(orjson.loads(body))
        return await classify_lines(body, **options)  # type: ignore[no-any-return]

    monkeypatch.setattr(classifier, "classify_lines", keep)
    await put_module(client, admin, kampung_id, "kkbpk", "2024-10", kkbpk_payload())
    large = await put_module(client, admin, kampung_id, "profil", "2024-01", profil_payload())
    monkeypatch.undo()
    assert [(body["explain"], len(body["rulesets"]) * len(body["items"])) for body in sent] == [(True, 2), (False, 20)]
    path, january = f"/v1/kampung/{kampung_id}/classification", {"period": "2024-01"}
    assert large.json()["classification"] == (await client.get(path, params=january, headers=auth(admin))).json()
    assert large.json()["classification"]["next_tier"] is not None
    rows = await _rows(session)
    assert len(rows) == 20
    async with httpx.AsyncClient(base_url=classifier_url) as direct:
        for row in rows:
            body = {"ruleset": row.ruleset, "period": format_period(row.period), "snapshot": row.snapshot.snapshot}
            full = (await direct.post("/v1/classify", json=body)).json()
            assert (row.tier, row.scores, [float(i) for i in row.indices], row.passed) == (
                full["tier"],
                list(full["scores"].values()),
                list(full["indices"].values()),
                list(full["passed"].values()),
            )
