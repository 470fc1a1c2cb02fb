from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from kampungkb_shared.periods import current_period
from registry_api.auth.deps import PublicReaderDep
from registry_api.db import SessionDep
from registry_api.ranking import service
from registry_api.ranking.schemas import Ranking
from registry_api.reports import tables
from registry_api.settings import Settings

router = APIRouter(tags=["reports"])

COLUMNS = (
    "rank",
    "kampung_id",
    "name",
    "desa_code",
    "tier",
    "classified_period",
    "index_input",
    "index_proses",
    "index_output",
    "index_sum",
    "months_reported",
    "reporting_rate_pct",
    "months_on_time",
    "open_flags",
    "percontohan",
    "activities",
    "activities_by_partner",
)


def _rows(ranking: Ranking) -> list[list[Any]]:
    return [
        [
            item.rank,
            item.kampung_id,
            item.name,
            item.desa_code,
            item.tier,
            item.classified_period,
            item.indices.input,
            item.indices.proses,
            item.indices.output,
            item.index_sum,
            item.months_reported,
            item.reporting_rate_pct,
            item.months_on_time,
            item.open_flags,
            ";".join(item.percontohan),
            item.activities,
            ";".join(f"{partner}:{count}" for partner, count in item.activities_by_partner.items()),
        ]
        for item in ranking.items
    ]


@router.get(
    "/v1/reports/{code}/ranking",
    response_model=Ranking,
    responses={200: {"content": {tables.CSV_TYPE: {}, tables.XLSX_TYPE: {}}}},
)
async def get_ranking(
    request: Request,
    code: Annotated[str, Path(description="a region code (kecamatan and above), `00` for the nation")],
    session: SessionDep,
    reader: PublicReaderDep,
    year: Annotated[int | None, Query(ge=2016, le=2100, description="default: the current year")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Ranking | Response:
    """The yearly shortlist: Kampung KB ranked by tier, indices, months reported and on time, open flags (`rule`)."""
    settings: Settings = request.app.state.settings
    ranking = await service.get_ranking(
        session,
        code=code,
        year=year or int(current_period()[:4]),
        limit=limit,
        ruleset=settings.primary_ruleset,
        deadline=settings,
    )
    if format == "json":
        return ranking
    if format == "csv":
        body, media_type = tables.to_csv(COLUMNS, _rows(ranking)), tables.CSV_TYPE
    else:
        caption = f"{ranking.name} ({ranking.code}), {ranking.year}: {ranking.rule}"
        title = f"{ranking.code} {ranking.year}"
        body, media_type = (
            tables.to_xlsx(title=title, caption=caption, header=COLUMNS, rows=_rows(ranking)),
            tables.XLSX_TYPE,
        )
    name = f"kampungkb-ranking-{ranking.code.replace('.', '')}-{ranking.year}.{format}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})
