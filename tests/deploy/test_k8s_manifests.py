"""deploy/k8s: kustomize output of base and production, valid against the Kubernetes schemas in strict mode."""

import copy
import ipaddress
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
from fastapi.routing import iter_route_contexts
from kubernetes_validate.utils import all_versions
from starlette.routing import Mount

from registry_api.main import create_app
from registry_api.settings import Settings
from report_worker.settings import Settings as ReportWorkerSettings

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = ("base", "overlays/production")
# The newest Kubernetes release whose schemas kubernetes-validate ships (offline, in the wheel).
KUBERNETES_VERSION = "1.37.0"
NAMESPACE = "kampungkb"
HPA_TARGETS = {"classifier", "registry-worker", "report-worker"}
# Each HTTP service writes its own access log (with the request id, and no enrolment code): not uvicorn's as well.
_UVICORN = ["--no-access-log"]
COMMANDS = {
    "registry-api": [
        "uvicorn",
        "registry_api.main:app",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        "--proxy-headers",
        *_UVICORN,
        "--timeout-graceful-shutdown",
        "20",
    ],
    "registry-worker": ["registry-api", "worker"],
    "classifier": [
        "uvicorn",
        "classifier.main:app",
        "--host",
        "0.0.0.0",
        "--port",
        "8001",
        *_UVICORN,
        "--timeout-graceful-shutdown",
        "15",
    ],
    # arq's Worker started again whenever Redis goes away (`arq` itself exits): report_worker/worker.py
    "report-worker": ["python", "-m", "report_worker"],
}
METRICS_PORTS = {"registry-api": 8000, "registry-worker": 9101, "classifier": 8001, "report-worker": 9100}

Obj = dict[str, Any]


def of_kind(objects: list[Obj], kind: str) -> dict[str, Obj]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def pod_spec(obj: Obj) -> Obj:
    spec: Obj = obj["spec"]["template"]["spec"]
    return spec


def unhashed(obj: Obj) -> str:
    """The name without the content-hash suffix kustomize gives generated ConfigMaps."""
    name: str = obj["metadata"]["name"]
    return name.rsplit("-", 1)[0] if obj["kind"] == "ConfigMap" else name


def cpu_millicores(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def memory_mib(quantity: str) -> int:
    units = {"Mi": 1, "Gi": 1024}
    return int(quantity[:-2]) * units[quantity[-2:]]


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, "only matchLabels selectors are checked here"
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


def test_kubernetes_version_is_shipped() -> None:
    assert KUBERNETES_VERSION in all_versions()
    assert tuple(int(part) for part in KUBERNETES_VERSION.split(".")[:2]) >= (1, 30)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly(rendered: dict[str, list[Obj]], overlay: str) -> None:
    failures = []
    for obj in rendered[overlay]:
        try:
            version = kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {error.message}")
        else:
            assert version == "1.37"
    assert not failures, "\n".join(failures)


def test_strict_validation_rejects_unknown_fields(rendered: dict[str, list[Obj]]) -> None:
    deployment = copy.deepcopy(of_kind(rendered["base"], "Deployment")["registry-api"])
    pod_spec(deployment)["containers"][0]["readinesProbe"] = pod_spec(deployment)["containers"][0]["readinessProbe"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_expected_objects_in_one_namespace(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    assert set(of_kind(objects, "Deployment")) == set(COMMANDS)
    assert set(of_kind(objects, "Service")) == {"registry-api", "classifier"}
    assert set(of_kind(objects, "Job")) == {"registry-api-migrate"}
    assert set(of_kind(objects, "Namespace")) == {NAMESPACE}
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_have_probes_resources_and_commands(rendered: dict[str, list[Obj]], overlay: str) -> None:
    for name, deployment in of_kind(rendered[overlay], "Deployment").items():
        (container,) = pod_spec(deployment)["containers"]
        assert container["command"] == COMMANDS[name]
        ports = {port.get("name"): port["containerPort"] for port in container["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            http = container[probe]["httpGet"]
            port = http["port"]
            assert port in ports or port in ports.values(), f"{name} {probe} on an undeclared port"
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), name
        assert "memory" in resources["limits"], name
        assert cpu_millicores(resources["requests"]["cpu"]) <= cpu_millicores(resources["limits"]["cpu"])
        assert memory_mib(resources["requests"]["memory"]) <= memory_mib(resources["limits"]["memory"])
        assert METRICS_PORTS[name] in ports.values()
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(METRICS_PORTS[name])


def test_http_services_probe_healthz_and_readyz(rendered: dict[str, list[Obj]]) -> None:
    deployments = of_kind(rendered["base"], "Deployment")
    for name in ("registry-api", "classifier"):
        (container,) = pod_spec(deployments[name])["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for name in ("registry-worker", "report-worker"):
        (container,) = pod_spec(deployments[name])["containers"]
        # Not /metrics: served from a thread, it answers while the event loop is stuck. /healthz fails once the
        # loop has not ticked for a minute (kampungkb_shared.liveness).
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}


def uvicorn_graceful_s(command: list[str]) -> int:
    (index,) = [i for i, arg in enumerate(command) if arg == "--timeout-graceful-shutdown"]
    return int(command[index + 1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_http_pods_leave_the_service_before_they_stop_and_within_their_grace_period(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    """A pod being deleted is taken out of the endpoints while it is told to stop, not before: preStop waits a few
    seconds (the ingress controller and kube-proxy catch up) before SIGTERM, then uvicorn lets the requests in flight
    finish for a bounded time, and the lifespan ends, all within terminationGracePeriodSeconds (no SIGKILL)."""
    deployments = of_kind(rendered[overlay], "Deployment")
    for name in ("registry-api", "classifier"):
        spec = pod_spec(deployments[name])
        (container,) = spec["containers"]
        sleep, seconds = container["lifecycle"]["preStop"]["exec"]["command"]
        # `sleep` of the image: its runtime is Debian (coreutils), as test_dockerfiles checks
        assert sleep == "sleep" and 5 <= int(seconds) <= 10, name
        graceful = uvicorn_graceful_s(container["command"])
        lifespan_s = 10  # the lifespan's shutdown: the background loops get 5 s each (background.loops), then closes
        assert int(seconds) + graceful + lifespan_s <= spec["terminationGracePeriodSeconds"], name


def test_report_worker_jobs_finish_within_the_grace_period(rendered: dict[str, list[Obj]]) -> None:
    """On SIGTERM report-worker takes no job and lets those running finish for `shutdown_wait_s`, then cancels the
    rest and ends: before the kubelet's SIGKILL."""
    (container,) = pod_spec(of_kind(rendered["base"], "Deployment")["report-worker"])["containers"]
    grace = pod_spec(of_kind(rendered["base"], "Deployment")["report-worker"])["terminationGracePeriodSeconds"]
    assert "WORKER_SHUTDOWN_WAIT_S" not in str(container.get("env", [])), "the default is the one checked here"
    assert (
        0
        < ReportWorkerSettings(DATABASE_URL="postgresql://unused", REDIS_URL="redis://unused").shutdown_wait_s
        <= grace - 10
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_non_root_with_read_only_root(rendered: dict[str, list[Obj]], overlay: str) -> None:
    workloads = [*of_kind(rendered[overlay], "Deployment").values(), *of_kind(rendered[overlay], "Job").values()]
    for workload in workloads:
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        mounts = set()
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            mounts |= {mount["mountPath"] for mount in container.get("volumeMounts", [])}
        assert "/tmp" in mounts, "a writable /tmp beside the read-only root"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hpas_scale_existing_deployments_by_cpu(rendered: dict[str, list[Obj]], overlay: str) -> None:
    hpas = of_kind(rendered[overlay], "HorizontalPodAutoscaler")
    deployments = of_kind(rendered[overlay], "Deployment")
    assert {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()} == HPA_TARGETS
    for hpa in hpas.values():
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        deployment = deployments[target["name"]]
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert [m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"] == ["cpu"]
        # Utilisation is relative to the request, and an applied replica count would fight the HPA.
        assert all("cpu" in c["resources"]["requests"] for c in pod_spec(deployment)["containers"])
        assert "replicas" not in deployment["spec"], f"{target['name']}: the HPA owns the replica count"
    assert hpas["classifier"]["spec"]["minReplicas"] >= 2


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pdbs_and_services_select_deployment_pods(rendered: dict[str, list[Obj]], overlay: str) -> None:
    deployments = of_kind(rendered[overlay], "Deployment")
    pod_labels = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    for name, deployment in deployments.items():
        assert selects(deployment["spec"]["selector"], pod_labels[name])
    covered = set()
    for name, pdb in of_kind(rendered[overlay], "PodDisruptionBudget").items():
        matched = [d for d, labels in pod_labels.items() if selects(pdb["spec"]["selector"], labels)]
        assert matched == [name], f"PDB {name} selects {matched}"
        covered.add(name)
        assert pdb["spec"].get("maxUnavailable") == 1, "never blocks a drain of a single-replica worker"
    assert covered == set(deployments)
    for name, service in of_kind(rendered[overlay], "Service").items():
        selector = {"matchLabels": service["spec"]["selector"]}
        assert [d for d, labels in pod_labels.items() if selects(selector, labels)] == [name]
        (container,) = pod_spec(deployments[name])["containers"]
        port_names = {port.get("name") for port in container["ports"]}
        assert all(port["targetPort"] in port_names for port in service["spec"]["ports"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_and_secret_references_resolve(rendered: dict[str, list[Obj]], overlay: str) -> None:
    configmaps = of_kind(rendered[overlay], "ConfigMap")
    secrets = of_kind(rendered[overlay], "Secret")
    workloads = [*of_kind(rendered[overlay], "Deployment").values(), *of_kind(rendered[overlay], "Job").values()]
    for workload in workloads:
        for container in pod_spec(workload)["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ref["key"] in configmaps[ref["name"]]["data"], ref
    (config,) = configmaps.values()
    assert config["data"]["REGISTRY_CLASSIFIER_URL"] == "http://classifier:8001"
    assert config["data"]["CLASSIFIER_DEFAULT_RULESET"] in {"bkkbn-web-2021", "kkb-2025"}
    (secret,) = secrets.values()
    assert set(secret["stringData"]) == {"DATABASE_URL", "REDIS_URL"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migration_job_runs_first(rendered: dict[str, list[Obj]], overlay: str) -> None:
    job = of_kind(rendered[overlay], "Job")["registry-api-migrate"]
    spec = pod_spec(job)
    (container,) = spec["containers"]
    assert container["command"] == ["registry-api", "migrate"]
    assert spec["restartPolicy"] == "Never"
    api_image = pod_spec(of_kind(rendered[overlay], "Deployment")["registry-api"])["containers"][0]["image"]
    assert container["image"] == api_image, "migrations come from the image being rolled out"
    # `kubectl apply -k ... -l kampungkb.io/phase=pre-deploy` applies exactly what the Job needs.
    pre_deploy = {
        (obj["kind"], unhashed(obj))
        for obj in rendered[overlay]
        if obj["metadata"].get("labels", {}).get("kampungkb.io/phase") == "pre-deploy"
    }
    assert pre_deploy == {
        ("Namespace", NAMESPACE),
        ("ConfigMap", "kampungkb-config"),
        ("Secret", "kampungkb-secrets"),
        ("Job", "registry-api-migrate"),
    }


def test_images_come_from_the_service_dockerfiles(rendered: dict[str, list[Obj]]) -> None:
    for overlay in OVERLAYS:
        workloads = [*of_kind(rendered[overlay], "Deployment").values(), *of_kind(rendered[overlay], "Job").values()]
        for workload in workloads:
            for container in pod_spec(workload)["containers"]:
                name, _, tag = container["image"].rpartition(":")
                assert tag and tag != "latest", container["image"]
                assert (REPO / "services" / name.rsplit("/", 1)[-1] / "Dockerfile").is_file(), name
                if overlay != "base":
                    assert tag != "dev", f"{overlay} pins a release tag"


def test_production_is_bigger_than_base(rendered: dict[str, list[Obj]]) -> None:
    base, production = rendered["base"], rendered["overlays/production"]
    base_deployments, prod_deployments = of_kind(base, "Deployment"), of_kind(production, "Deployment")
    assert prod_deployments["registry-api"]["spec"]["replicas"] > base_deployments["registry-api"]["spec"]["replicas"]
    for name in COMMANDS:
        base_requests = pod_spec(base_deployments[name])["containers"][0]["resources"]["requests"]
        prod_requests = pod_spec(prod_deployments[name])["containers"][0]["resources"]["requests"]
        assert cpu_millicores(prod_requests["cpu"]) > cpu_millicores(base_requests["cpu"]), name
        assert memory_mib(prod_requests["memory"]) >= memory_mib(base_requests["memory"]), name
    base_hpas, prod_hpas = of_kind(base, "HorizontalPodAutoscaler"), of_kind(production, "HorizontalPodAutoscaler")
    for name in HPA_TARGETS:
        assert prod_hpas[name]["spec"]["minReplicas"] >= base_hpas[name]["spec"]["minReplicas"]
        assert prod_hpas[name]["spec"]["maxReplicas"] > base_hpas[name]["spec"]["maxReplicas"]
    (config,) = of_kind(production, "ConfigMap").values()
    assert config["data"]["REGISTRY_CORS_ORIGINS"].startswith("https://")


# Routes of registry-api that stay inside the cluster: the docs (kubectl port-forward) and the metrics (Prometheus
# scrapes the pods). Every other route of the app is public and must be routed by the production Ingress.
INTERNAL_ROUTES = {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/static-offline-docs", "/metrics"}


def app_paths() -> dict[str, str]:
    """Each route of registry-api's app (mounts included) with a request path it answers, parameters filled in."""
    settings = Settings(database_url="postgresql://unused@127.0.0.1/unused", redis_url="redis://127.0.0.1:1/0")
    paths = {}
    for route in iter_route_contexts(create_app(settings).routes):
        template = route.path
        assert template, route
        sample = re.sub(r"\{[^}]+\}", "x", template)
        paths[template] = f"{sample}/x" if isinstance(route.original_route, Mount) else sample
    return paths


def routed(request_path: str, rule: Obj) -> bool:
    """Whether an Ingress path (Exact, or Prefix: whole path elements) takes the request path."""
    path, kind = rule["path"], rule["pathType"]
    assert kind in {"Exact", "Prefix"}, f"{path}: {kind} matches differently on each controller"
    if kind == "Exact":
        return request_path == path
    prefix = [part for part in path.split("/") if part]
    return [part for part in request_path.split("/") if part][: len(prefix)] == prefix


def test_ingress_routes_every_public_path_of_the_app_and_nothing_internal(rendered: dict[str, list[Obj]]) -> None:
    ingresses = of_kind(rendered["overlays/production"], "Ingress")
    assert all("defaultBackend" not in ingress["spec"] for ingress in ingresses.values()), "only the paths listed"
    rules = [
        path for ingress in ingresses.values() for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
    ]
    for rule in rules:
        assert rule["backend"]["service"] == {"name": "registry-api", "port": {"name": "http"}}, rule
    paths = app_paths()
    assert set(paths) >= INTERNAL_ROUTES, "an internal route the app no longer has: drop it from the list"
    assert "/dashboard/{code}" in paths and "/v1/kampung" in paths and "/healthz" in paths
    for template, request_path in paths.items():
        taken = [rule["path"] for rule in rules if routed(request_path, rule)]
        if template in INTERNAL_ROUTES:
            assert not taken, f"{template} is internal, but the Ingress routes it ({taken})"
        else:
            assert taken, f"{template} is public, but no Ingress path routes it (or list it in INTERNAL_ROUTES)"
    for rule in rules:
        assert any(routed(request_path, rule) for request_path in paths.values()), f"{rule['path']} routes nothing"
    assert routed("/dashboard/static/dashboard.css", {"path": "/dashboard", "pathType": "Prefix"})
    assert not routed("/dashboards", {"path": "/dashboard", "pathType": "Prefix"})
    assert not routed("/metrics", {"path": "/v1", "pathType": "Prefix"})


def test_enrolment_codes_stay_out_of_the_ingress_access_log(rendered: dict[str, list[Obj]]) -> None:
    """A QR image's path holds its code: its Ingress logs no access; every other path stays on the logged one."""
    ingresses = of_kind(rendered["overlays/production"], "Ingress")
    unlogged = {
        path["path"]
        for ingress in ingresses.values()
        if ingress["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/enable-access-log") == "false"
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert unlogged == {"/v1/enrolments"}
    hosts = {
        (rule["host"], tuple(map(str, ingress["spec"]["tls"])))
        for ingress in ingresses.values()
        for rule in ingress["spec"]["rules"]
    }
    assert len(hosts) == 1, "one host and one certificate for every path"


# Who may reach each workload and whom it may reach: (peer, port, protocol). A peer is a workload of the namespace,
# `namespace/app` for pods elsewhere, or `any` for an address outside the cluster (PostgreSQL and Redis).
DNS = {("kube-system/kube-dns", 53, "UDP"), ("kube-system/kube-dns", 53, "TCP")}
PROMETHEUS = "monitoring/prometheus"
EXPECTED_INGRESS = {
    "registry-api": {("ingress-nginx/ingress-nginx", 8000, "TCP"), (PROMETHEUS, 8000, "TCP")},
    "classifier": {("registry-api", 8001, "TCP"), ("registry-worker", 8001, "TCP"), (PROMETHEUS, 8001, "TCP")},
    "registry-worker": {(PROMETHEUS, 9101, "TCP")},
    "report-worker": {(PROMETHEUS, 9100, "TCP")},
    "registry-api-migrate": set(),
}
EXPECTED_EGRESS = {
    "registry-api": DNS | {("any", 5432, "TCP"), ("any", 6379, "TCP"), ("classifier", 8001, "TCP")},
    "registry-worker": DNS | {("any", 5432, "TCP"), ("any", 6379, "TCP"), ("classifier", 8001, "TCP")},
    "report-worker": DNS | {("any", 5432, "TCP"), ("any", 6379, "TCP")},
    "registry-api-migrate": DNS | {("any", 5432, "TCP")},
    "classifier": set(),
}


def matches(selector: Obj, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions with In, NotIn, Exists, DoesNotExist)."""
    if not all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def workloads(objects: list[Obj]) -> dict[str, Obj]:
    """Pod template metadata and spec of every Deployment and Job, by name."""
    return {
        name: obj["spec"]["template"] for kind in ("Deployment", "Job") for name, obj in of_kind(objects, kind).items()
    }


def peers(rule_peers: list[Obj] | None, pods: dict[str, Obj]) -> set[str]:
    if not rule_peers:
        return {"any"}
    found = set()
    for peer in rule_peers:
        assert "ipBlock" not in peer, "addresses are for overlays"
        pod_selector = peer.get("podSelector", {})
        if "namespaceSelector" in peer:
            namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            app = next(iter(pod_selector["matchLabels"].values()))
            found.add(f"{namespace}/{app}")
        else:
            found |= {name for name, pod in pods.items() if matches(pod_selector, pod["metadata"]["labels"])}
    return found


def container_ports(pod: Obj) -> set[int]:
    return {port["containerPort"] for container in pod["spec"]["containers"] for port in container.get("ports", [])}


def flows(objects: list[Obj], direction: str) -> dict[str, set[tuple[str, int, str]]]:
    """The flows the policies allow, per workload; an ingress port only where the pod listens on it, an egress port
    to a workload only where that workload listens on it."""
    pods = workloads(objects)
    allowed: dict[str, set[tuple[str, int, str]]] = {name: set() for name in pods}
    for policy in of_kind(objects, "NetworkPolicy").values():
        spec = policy["spec"]
        for name, pod in pods.items():
            if not matches(spec["podSelector"], pod["metadata"]["labels"]):
                continue
            for rule in spec.get("ingress" if direction == "ingress" else "egress", []):
                for peer in peers(rule.get("from" if direction == "ingress" else "to"), pods):
                    for port in rule["ports"]:
                        listening = pod if direction == "ingress" else pods.get(peer)
                        if listening is None or port["port"] in container_ports(listening):
                            allowed[name].add((peer, port["port"], port["protocol"]))
    return allowed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_allow_only_the_needed_flows(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    policies = of_kind(objects, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, "every pod, both directions, no rule"
    for name, pod in workloads(objects).items():
        selecting = [
            p for p, policy in policies.items() if matches(policy["spec"]["podSelector"], pod["metadata"]["labels"])
        ]
        assert "default-deny" in selecting and len(selecting) > 1, f"{name} is selected by {selecting}"
    assert flows(objects, "ingress") == EXPECTED_INGRESS
    assert flows(objects, "egress") == EXPECTED_EGRESS


def test_every_policy_selects_a_pod_and_every_ingress_port_is_listened_on(rendered: dict[str, list[Obj]]) -> None:
    pods = workloads(rendered["base"])
    for name, policy in of_kind(rendered["base"], "NetworkPolicy").items():
        selected = [p for p, pod in pods.items() if matches(policy["spec"]["podSelector"], pod["metadata"]["labels"])]
        assert selected, f"{name} selects no pod"
        for rule in policy["spec"].get("ingress", []):
            for port in rule["ports"]:
                assert any(port["port"] in container_ports(pods[p]) for p in selected), (name, port)


INGRESS_CONTROLLER = "ingress-nginx/ingress-nginx"
UVICORN_TRUSTED_DEFAULT = "127.0.0.1,::1"
"""What uvicorn trusts forwarded headers from without `--forwarded-allow-ips` or FORWARDED_ALLOW_IPS."""


def container_env(container: Obj, configmaps: dict[str, Obj]) -> dict[str, str]:
    """The container's environment from its ConfigMaps and literal values (`env` over `envFrom`)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]]["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif ref := var.get("valueFrom", {}).get("configMapKeyRef"):
            env[var["name"]] = configmaps[ref["name"]]["data"][ref["key"]]
    return env


def forwarded_allow_ips(container: Obj, configmaps: dict[str, Obj]) -> str:
    """Whom uvicorn takes X-Forwarded-For from: `--forwarded-allow-ips`, else FORWARDED_ALLOW_IPS, else loopback."""
    command = container["command"]
    for index, arg in enumerate(command):
        if arg == "--forwarded-allow-ips":
            return str(command[index + 1])
        if arg.startswith("--forwarded-allow-ips="):
            return str(arg.partition("=")[2])
    return container_env(container, configmaps).get("FORWARDED_ALLOW_IPS", UVICORN_TRUSTED_DEFAULT)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_registry_api_takes_client_addresses_from_the_ingress_controller_only(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    # Rate limits without a key count per client address: behind the Ingress that address must be the caller's
    # (X-Forwarded-For), and only the ingress controller may be believed when it says so.
    objects = rendered[overlay]
    deployments, configmaps = of_kind(objects, "Deployment"), of_kind(objects, "ConfigMap")
    (container,) = pod_spec(deployments["registry-api"])["containers"]
    command = container["command"]
    assert command[0] == "uvicorn" and "--proxy-headers" in command and "--no-proxy-headers" not in command
    trusted = [entry.strip() for entry in forwarded_allow_ips(container, configmaps).split(",")]
    # Who can connect to the port at all: the ingress controller, and Prometheus (it scrapes /metrics and sends no
    # forwarded headers). The trusted ranges below hold pod addresses, so this policy is what keeps other pods out.
    connecting = {peer for peer, port, _ in flows(objects, "ingress")["registry-api"] if port == 8000}
    assert connecting == {INGRESS_CONTROLLER, PROMETHEUS}
    if trusted != ["*"]:
        # uvicorn takes an entry that is not an address or network as a name that never matches, silently.
        networks = [ipaddress.ip_network(entry) for entry in trusted]
        for network in networks:
            assert network.prefixlen > 0 and network.is_private, f"{network}: a client could forge its address"
        assert any(not network.is_loopback for network in networks), "loopback only: the Ingress is not trusted"
    # Nothing else trusts forwarded headers from the cluster: only registry-api sits behind the Ingress.
    for name, deployment in deployments.items():
        if name != "registry-api":
            (other,) = pod_spec(deployment)["containers"]
            assert forwarded_allow_ips(other, configmaps) == UVICORN_TRUSTED_DEFAULT, name


def test_redis_url_in_the_secret_carries_a_password(rendered: dict[str, list[Obj]]) -> None:
    (secret,) = of_kind(rendered["base"], "Secret").values()
    redis = urlsplit(secret["stringData"]["REDIS_URL"])
    assert redis.scheme in ("redis", "rediss") and redis.password, "Redis requires a password"
