"""PostgreSQL's connections: what each process may hold at once (its pools, from the settings' defaults), times the
pods the manifests run it on (production's fewest, and most: the autoscaler's maximum plus a rollout's surge; compose's
replicas), against compose's `max_connections` and the production figure the README's Operations section states. The
README's table is checked against the same computation, so a pool, a replica count or an autoscaler's maximum raised
without the budget fails here."""

import math
import re
from typing import Any

from registry_api.db import create_engine
from registry_api.settings import Settings as RegistrySettings
from report_worker.settings import Settings as ReportWorkerSettings
from tests.deploy.conftest import REPO
from tests.deploy.test_k8s_manifests import of_kind

UNUSED_DATABASE = "postgresql://unused@127.0.0.1/unused"
UNUSED_REDIS = "redis://127.0.0.1:1/0"
RESERVED = 3 + 10
"""PostgreSQL's `superuser_reserved_connections` (3), and psql sessions, backups and an exporter (10)."""
KUBERNETES_DEFAULT_SURGE = "25%"
USERS = ("registry-api", "registry-worker", "report-worker", "registry-api-migrate")

Obj = dict[str, Any]


def engine_capacity(pool_size: int) -> int:
    """What an engine of `registry_api.db.create_engine` may open at once: its pool and its overflow."""
    engine = create_engine(UNUSED_DATABASE, pool_size=pool_size)
    pool: Any = engine.pool
    return int(pool.size() + pool._max_overflow)


def per_pod() -> dict[str, int]:
    registry = RegistrySettings(database_url=UNUSED_DATABASE, redis_url=UNUSED_REDIS)
    report = ReportWorkerSettings(DATABASE_URL=UNUSED_DATABASE, REDIS_URL=UNUSED_REDIS)
    return {
        # one uvicorn process a pod: the requests' engine, and the readiness check's own connection (health.py)
        "registry-api": engine_capacity(registry.db_pool_size) + 1,
        # `registry-api worker` (background/worker.py): 2, and 2 per import runner
        "registry-worker": engine_capacity(2 + 2 * registry.import_runners),
        "report-worker": report.db_pool_size,
        "registry-api-migrate": engine_capacity(1),  # migrations/env.py
    }


def whole_period_shares() -> int:
    """report-worker's connections of its own, in the whole cluster: a whole-period rebuild's figures and a data
    quality pass over the nation, each under an exclusive advisory lock (`report_worker.aggregates`), each on
    `rebuild_connections` connections (`report_worker.apart`)."""
    return 2 * ReportWorkerSettings(DATABASE_URL=UNUSED_DATABASE, REDIS_URL=UNUSED_REDIS).rebuild_connections


def production_pods(objects: list[Obj]) -> dict[str, tuple[int, int]]:
    """(fewest, most) pods of each workload: a fixed count or its autoscaler's range; most with a rollout's surge."""
    hpas = {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in of_kind(objects, "HorizontalPodAutoscaler").values()}
    pods: dict[str, tuple[int, int]] = {"registry-api-migrate": (1, 1)}
    for name, deployment in of_kind(objects, "Deployment").items():
        if name in hpas:
            fewest, most = hpas[name]["spec"]["minReplicas"], hpas[name]["spec"]["maxReplicas"]
        else:
            fewest = most = deployment["spec"]["replicas"]
        strategy = deployment["spec"].get("strategy", {})
        assert strategy.get("type", "RollingUpdate") == "RollingUpdate", name
        surge = strategy.get("rollingUpdate", {}).get("maxSurge", KUBERNETES_DEFAULT_SURGE)
        extra = math.ceil(most * int(surge[:-1]) / 100) if isinstance(surge, str) else int(surge)  # rounded up
        pods[name] = (fewest, most + extra)
    return pods


def compose_pods(compose: Obj) -> dict[str, int]:
    services = compose["services"]
    assert {name for name, svc in services.items() if "DATABASE_URL" in svc.get("environment", {})} == {
        "registry-api",
        "registry-worker",
        "report-worker",
        "migrate",
    }
    replicas = {name: services[name].get("deploy", {}).get("replicas", 1) for name in USERS[:3]}
    return {**replicas, "registry-api-migrate": 1}


def budget(pods: dict[str, int]) -> dict[str, int]:
    """Connections of each workload at these pods, the reserved ones, and the total."""
    each = per_pod()
    used = {name: each[name] * pods[name] for name in USERS}
    if pods["report-worker"]:
        used["report-worker"] += whole_period_shares()
    return {**used, "reserved": RESERVED, "total": sum(used.values()) + RESERVED}


def readme_table() -> dict[str, list[str]]:
    """The connection table of the README's Operations section: row name -> its cells."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("**PostgreSQL connections.**") :]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        name = re.split(r"[: ]", cells[0].strip("*"), maxsplit=1)[0]
        rows[name] = cells[1:]
    del rows["Connections"], rows["---"]  # the head and its rule
    return rows


def last_number(cell: str) -> int:
    return int(re.findall(r"\d+", cell)[-1])


def readme_production_max_connections() -> int:
    readme = (REPO / "README.md").read_text()
    operations = readme[readme.index("## Operations") :]
    (value,) = re.findall(r"Production must set `max_connections = (\d+)`", operations)
    return int(value)


def compose_max_connections(compose: Obj) -> int:
    command = compose["services"]["postgres"]["command"]
    (setting,) = [arg for arg in command if arg.startswith("max_connections=")]
    return int(setting.partition("=")[2])


def test_compose_and_production_fit_their_connection_budget(
    rendered: dict[str, list[Obj]], compose: dict[str, Any]
) -> None:
    production = production_pods(rendered["overlays/production"])
    fewest = budget({name: pods[0] for name, pods in production.items()})
    most = budget({name: pods[1] for name, pods in production.items()})
    local = budget(compose_pods(compose))
    assert compose_max_connections(compose) >= local["total"]
    assert readme_production_max_connections() >= most["total"]
    assert fewest["total"] > 100, "PostgreSQL's default is too few: the README says production must set it"


def test_the_readme_table_is_the_budget_computed(rendered: dict[str, list[Obj]], compose: dict[str, Any]) -> None:
    production = production_pods(rendered["overlays/production"])
    columns = [
        budget(compose_pods(compose)),
        budget({name: pods[0] for name, pods in production.items()}),
        budget({name: pods[1] for name, pods in production.items()}),
    ]
    rows = readme_table()
    names = {"registry-api": "registry-api", "registry-worker": "registry-worker", "report-worker": "report-worker"}
    names |= {"migration": "registry-api-migrate", "reserved": "reserved", "Total": "total"}
    assert set(rows) == set(names), rows
    each = per_pod()
    for row, key in names.items():
        cells = rows[row]
        if key in each:
            assert last_number(cells[0]) == each[key], row
        assert [last_number(cell) for cell in cells[1:]] == [column[key] for column in columns], row
    for row, key in names.items():
        if key in production and key != "registry-api-migrate":
            fewest, most = production[key]
            assert re.findall(r"\d+", rows[row][2])[0] == str(fewest), row
            assert sum(int(n) for n in re.findall(r"\d+", rows[row][3])[:-1]) == most, row
