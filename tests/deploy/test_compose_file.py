"""deploy/compose.yaml: valid against the Compose Specification schema, and wired in the right order."""

import copy
import importlib.resources
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from report_worker.settings import Settings as ReportWorkerSettings

REPO = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("postgres", "redis", "registry-api", "registry-worker", "classifier", "report-worker")


def compose_schema() -> dict[str, Any]:
    # check-jsonschema vendors the upstream compose-spec.json (its `vendor.compose-spec` builtin),
    # so the schema is current and nothing is fetched at test time.
    resource = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(resource.read_text())
    return schema


def validator() -> jsonschema.protocols.Validator:
    schema = compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def interpolate(value: str) -> str:
    """Compose's interpolation with every optional variable unset (`${VAR:-default}`) and every required one
    (`${VAR:?message}`) set to `set-VAR`."""
    value = re.sub(r"\$\{([A-Z_]+):\?[^}]*\}", r"set-\1", value)
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping"
    return {key: interpolate(str(value)) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on", {})
    assert isinstance(deps, dict), "depends_on in the long form, with conditions"
    return deps


def has_healthcheck(service: dict[str, Any]) -> bool:
    check: dict[str, Any] = service.get("healthcheck") or {}
    return bool(check.get("test")) and not check.get("disable", False)


def test_compose_schema_is_current_and_draft_2020_12() -> None:
    schema = compose_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "service_completed_successfully" in json.dumps(schema)


def test_compose_file_is_valid(compose: dict[str, Any]) -> None:
    errors = sorted(validator().iter_errors(compose), key=lambda error: list(error.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "redis", "healtcheck"), {"test": ["CMD", "true"]}),
        (("services", "migrate", "depends_on", "postgres", "condition"), "service_done"),
        (("services", "classifier", "deploy", "replica"), 2),
    ],
)
def test_schema_rejects_mistakes(compose: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    broken = copy.deepcopy(compose)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(validator().iter_errors(broken)), f"{'/'.join(path)} = {value!r} should be rejected"


def test_migrate_is_a_one_shot_after_postgres(compose: dict[str, Any]) -> None:
    migrate = services(compose)["migrate"]
    assert migrate["command"] == ["registry-api", "migrate"]
    assert migrate["build"]["dockerfile"] == "services/registry-api/Dockerfile"
    assert depends_on(migrate)["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart") == "no"
    assert "ports" not in migrate


def test_everything_using_the_database_waits_for_migrate(compose: dict[str, Any]) -> None:
    users = {name for name, svc in services(compose).items() if "DATABASE_URL" in environment(svc)} - {"migrate"}
    assert users == {"registry-api", "registry-worker", "report-worker"}
    completed = {"condition": "service_completed_successfully"}
    for name in users:
        assert depends_on(services(compose)[name]).get("migrate") == completed, name


def test_long_running_services_have_healthchecks(compose: dict[str, Any]) -> None:
    for name in LONG_RUNNING:
        service = services(compose)[name]
        assert has_healthcheck(service), f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped", name
    assert set(services(compose)) == {*LONG_RUNNING, "migrate"}


def test_dependencies_exist_and_healthy_conditions_have_checks(compose: dict[str, Any]) -> None:
    allowed = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services(compose).items():
        for target, spec in depends_on(service).items():
            assert target in services(compose), f"{name} depends on unknown {target}"
            assert spec["condition"] in allowed
            if spec["condition"] == "service_healthy":
                assert has_healthcheck(services(compose)[target]), f"{name} waits for {target} to be healthy"
            if spec["condition"] == "service_completed_successfully":
                assert target == "migrate"


def test_images_build_from_the_repo_root(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        if "build" not in service:
            continue
        context = (REPO / "deploy" / service["build"]["context"]).resolve()
        assert context == REPO, name
        assert (context / service["build"]["dockerfile"]).is_file(), name
    assert services(compose)["postgres"]["image"] == "postgres:16"
    assert services(compose)["redis"]["image"] == "redis:7"


def test_processes_and_ports(compose: dict[str, Any]) -> None:
    svc = services(compose)
    assert svc["registry-worker"]["command"] == ["registry-api", "worker"]
    # /healthz beside the metrics: it fails when the event loop stops ticking, which /metrics (a thread) does not
    assert "9101/healthz" in json.dumps(svc["registry-worker"]["healthcheck"])
    assert "9100/healthz" in json.dumps(svc["report-worker"]["healthcheck"])
    assert svc["classifier"]["deploy"]["replicas"] == 2
    assert "8000:8000" in svc["registry-api"]["ports"]
    # A host port range on loopback: each classifier replica binds one, so the second one does not fail on 8001.
    assert svc["classifier"]["ports"] == ["127.0.0.1:8001-8002:8001"]
    assert all("ports" not in svc[name] for name in ("postgres", "redis", "registry-worker", "report-worker"))


def test_environment_wiring(compose: dict[str, Any]) -> None:
    svc = services(compose)
    for name in ("migrate", "registry-api", "registry-worker", "report-worker"):
        env = environment(svc[name])
        database = urlsplit(env["DATABASE_URL"])
        assert database.scheme == "postgresql" and database.hostname in svc and database.port == 5432, name
        assert database.password == "set-POSTGRES_PASSWORD", name
        redis = urlsplit(env["REDIS_URL"])
        assert redis.scheme == "redis" and redis.hostname in svc and redis.port == 6379, name
        assert redis.password == "set-REDIS_PASSWORD", name
        assert env["LOG_JSON"] == "true"
    for name in ("registry-api", "registry-worker"):
        env = environment(svc[name])
        assert env["REGISTRY_CLASSIFIER_URL"] == "http://classifier:8001"
        assert env["REGISTRY_PUBLIC_READS"] in {"true", "false"}
        assert all(origin.startswith("http") for origin in env["REGISTRY_CORS_ORIGINS"].split(","))
    assert environment(svc["classifier"])["CLASSIFIER_DEFAULT_RULESET"] in {"bkkbn-web-2021", "kkb-2025"}
    assert "DATABASE_URL" not in environment(svc["classifier"]), "the classifier is stateless"


def test_registry_api_trusts_forwarded_addresses_only_from_a_proxy_configured(compose: dict[str, Any]) -> None:
    # Clients reach the published port directly: uvicorn's own default (loopback) until a proxy's address is set.
    svc = services(compose)
    assert environment(svc["registry-api"])["FORWARDED_ALLOW_IPS"] == "127.0.0.1,::1"
    assert all("FORWARDED_ALLOW_IPS" not in environment(svc[name]) for name in svc if name != "registry-api")


def test_state_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    volumes = compose["volumes"]
    for name, mount in [("postgres", "/var/lib/postgresql/data"), ("redis", "/data")]:
        (spec,) = services(compose)[name]["volumes"]
        volume, _, target = spec.partition(":")
        assert volume in volumes and target == mount, name


def test_no_default_passwords() -> None:
    text = (REPO / "deploy" / "compose.yaml").read_text()
    references = re.findall(r"\$\{(\w*PASSWORD\w*)([^}]*)\}", text)
    assert {name for name, _ in references} == {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    # `${VAR:?message}`: compose stops with the message when the variable is unset or empty; no fallback value.
    assert all(rest.startswith(":?") for _, rest in references), references


def test_postgres_and_redis_require_their_passwords(compose: dict[str, Any]) -> None:
    svc = services(compose)
    assert environment(svc["postgres"])["POSTGRES_PASSWORD"] == "set-POSTGRES_PASSWORD"
    redis = svc["redis"]
    assert environment(redis)["REDIS_PASSWORD"] == "set-REDIS_PASSWORD"
    assert '--requirepass "$$REDIS_PASSWORD"' in " ".join(redis["command"])
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"]), "the healthcheck authenticates"


def test_only_the_registry_api_is_published_beyond_loopback(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        for port in service.get("ports", []):
            published = str(port)
            if name == "registry-api":
                assert published == "8000:8000"
            else:
                assert published.startswith("127.0.0.1:"), f"{name} publishes {published} on every interface"


def test_services_stop_within_their_grace_period(compose: dict[str, Any]) -> None:
    """`docker compose stop` waits `stop_grace_period` before SIGKILL: long enough for report-worker's running jobs
    (`shutdown_wait_s`) and uvicorn's requests in flight (`--timeout-graceful-shutdown` of the image's CMD)."""
    svc = services(compose)

    def seconds(name: str) -> int:
        value = str(svc[name]["stop_grace_period"])
        assert value.endswith("s") and value[:-1].isdigit(), value
        return int(value[:-1])

    assert (
        seconds("report-worker")
        >= ReportWorkerSettings(DATABASE_URL="postgresql://unused", REDIS_URL="redis://unused").shutdown_wait_s + 10
    )
    for name in ("registry-api", "classifier"):
        lines = (REPO / "services" / name / "Dockerfile").read_text().splitlines()
        cmd = next(line for line in lines if line.startswith("CMD"))
        command = json.loads(cmd.removeprefix("CMD").strip())
        graceful = int(command[command.index("--timeout-graceful-shutdown") + 1])
        assert seconds(name) >= graceful + 10, name
