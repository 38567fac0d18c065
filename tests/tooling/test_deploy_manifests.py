"""Kubernetes manifests: rendered by kustomize, validated against the API schemas, checked."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from publisher.settings import PublishSettings, load_settings
from tests.conftest import tool

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
# Native sidecars (restartPolicy: Always on an init container) need 1.29; validate the oldest
# version the manifests claim to support and the newest schema the validator ships.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
RENDERED = {
    "base": KUBE / "base",
    "embedded": KUBE / "overlays" / "embedded",
    "redis": KUBE / "overlays" / "redis",
    "postgres": KUBE / "overlays" / "postgres",
    "amqp": KUBE / "overlays" / "amqp",
    "sidecar": KUBE / "examples" / "sidecar",
    "prometheus": ROOT / "deploy" / "prometheus",
    "grafana": ROOT / "deploy" / "grafana",
}
DATA_DIR = "/var/lib/partner-publisher"
PRESTOP_PLUS_MARGIN_S = 5


@functools.cache
def render(name: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(RENDERED[name])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"kustomize {name}: {result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def one(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def config_of(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    data = one(docs, "ConfigMap")["data"]["config.yaml"]
    parsed: dict[str, Any] = yaml.safe_load(data)
    return parsed


def pod_spec(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def publisher_container(spec: dict[str, Any]) -> dict[str, Any]:
    containers = [*spec.get("initContainers", []), *spec["containers"]]
    found = [c for c in containers if c["image"].endswith("partner-publisher:0.1.0")]
    assert len(found) == 1, "one partner-publisher container"
    return found[0]


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_renders_and_validates_against_kubernetes_schemas(name: str) -> None:
    docs = render(name)
    assert docs
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue  # no offline schema: checked by the tests below and by promtool
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_misspelt_field() -> None:
    deployment = yaml.safe_load(yaml.safe_dump(one(render("embedded"), "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("name", ["base", "embedded", "redis", "postgres", "amqp", "sidecar"])
def test_pod_is_locked_down(name: str) -> None:
    spec = pod_spec(render(name))
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    image_user = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    assert image_user is not None
    assert str(pod_security["runAsUser"]) == image_user.group(1), "pod and image agree on the uid"
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, container["name"]
        assert security["allowPrivilegeEscalation"] is False, container["name"]
        assert security["capabilities"]["drop"] == ["ALL"], container["name"]
        assert "limits" in container["resources"], container["name"]
        assert "requests" in container["resources"], container["name"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert not any("hostPath" in v for v in volumes.values())
    container = publisher_container(spec)
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {DATA_DIR, "/tmp"}, "writable only where volumes are mounted"


@pytest.mark.parametrize("name", ["base", "embedded", "redis", "postgres", "amqp", "sidecar"])
def test_probes_and_grace_period_follow_the_daemon(name: str) -> None:
    docs = render(name)
    spec = pod_spec(docs)
    container = publisher_container(spec)
    config = config_of(docs)
    admin_port = config["admin"]["port"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == admin_port, probe
    grace = config.get("publish", {}).get("shutdown_grace_s", PublishSettings().shutdown_grace_s)
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    pre_stop_s = int(pre_stop[1]) if pre_stop else 0
    needed = pre_stop_s + grace + PRESTOP_PLUS_MARGIN_S
    assert spec["terminationGracePeriodSeconds"] >= needed, (
        f"terminationGracePeriodSeconds must cover preStop {pre_stop_s} s + "
        f"shutdown_grace_s {grace} + margin {PRESTOP_PLUS_MARGIN_S}"
    )
    assert container["args"] == ["run", "--config", "/etc/partner-publisher/config.yaml"]


@pytest.mark.parametrize("name", ["base", "embedded", "sidecar"])
def test_config_map_is_a_valid_daemon_config(name: str, tmp_path: Path) -> None:
    docs = render(name)
    env = {"PUBLISHER__INGEST__TOKEN": "from-the-secret"}
    settings = load_settings(_write_config(tmp_path, docs), env)
    assert str(settings.input.path).startswith(DATA_DIR + "/")
    assert str(settings.dead_letter.path).startswith(DATA_DIR + "/")
    assert settings.tenants, "an example tenant shows the shape"


def test_redis_overlay_consumes_the_stream_and_autoscales_on_lag(tmp_path: Path) -> None:
    docs = render("redis")
    config = config_of(docs)
    assert config["input"] == {
        "kind": "redis",
        "url": "redis://redis.partner-publisher.svc:6379/0",
        "stream": "partner-events",
        "group": "publisher",
    }
    # The redis input kind lands with its own issue; every other section must load today.
    rest = {key: value for key, value in config.items() if key != "input"}
    path = _write_config(tmp_path, docs, rest)
    settings = load_settings(path, {})
    assert settings.ingest.enabled is False
    # A fleet keeps dead letters and history in Redis, not on a pod's emptyDir.
    assert config["dead_letter"] == {"kind": "redis"}
    assert settings.ledger.retention_s > 0
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    env_names = {e["name"] for e in publisher_container(pod_spec(docs)).get("env", [])}
    assert "PUBLISHER__INGEST__TOKEN" not in env_names, "no ingest, so no token to require"
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["minReplicas"] < hpa["maxReplicas"]
    external = [m["external"]["metric"]["name"] for m in hpa["metrics"] if m["type"] == "External"]
    assert external == ["publisher_input_lag_events"]
    egress_ports = {
        p["port"] for rule in one(docs, "NetworkPolicy")["spec"]["egress"] for p in rule["ports"]
    }
    assert {53, 443, 6379} <= egress_ports


@pytest.mark.parametrize(
    ("name", "kind", "port"), [("postgres", "postgres", 5432), ("amqp", "amqp", 5672)]
)
def test_queue_overlays_load_scale_on_lag_and_reach_their_server(
    name: str, kind: str, port: int, tmp_path: Path
) -> None:
    docs = render(name)
    env = {"PUBLISHER__INPUT__URL": "amqps://user:pw@broker:5671/"} if kind == "amqp" else {}
    settings = load_settings(_write_config(tmp_path, docs), env)
    assert settings.input.kind == kind
    assert settings.ingest.enabled is False
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    container = publisher_container(pod_spec(docs))
    env_names = {e["name"] for e in container.get("env", [])}
    assert "PUBLISHER__INGEST__TOKEN" not in env_names, "no ingest, so no token to require"
    if kind == "amqp":
        (url,) = [e for e in container["env"] if e["name"] == "PUBLISHER__INPUT__URL"]
        assert url["valueFrom"]["secretKeyRef"] == {"name": "partner-publisher-amqp", "key": "url"}
    else:
        password_file = str(settings.input.password_file)  # type: ignore[union-attr]
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        mount = mounts[str(Path(password_file).parent)]
        assert mount["readOnly"] is True
        volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
        assert volumes[mount["name"]]["secret"]["secretName"] == "partner-publisher-postgres"
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    external = [m["external"]["metric"]["name"] for m in hpa["metrics"] if m["type"] == "External"]
    assert external == ["publisher_input_lag_events"]
    egress_ports = {
        p["port"] for rule in one(docs, "NetworkPolicy")["spec"]["egress"] for p in rule["ports"]
    }
    assert {53, 443, port} <= egress_ports


def test_embedded_overlay_keeps_the_spool_on_a_claim() -> None:
    docs = render("embedded")
    deployment = one(docs, "Deployment")["spec"]
    assert deployment["replicas"] == 1
    assert deployment["strategy"]["type"] == "Recreate", "one writer on a ReadWriteOnce volume"
    claim = one(docs, "PersistentVolumeClaim")
    data = {v["name"]: v for v in deployment["template"]["spec"]["volumes"]}["data"]
    assert data == {
        "name": "data",
        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
    }


@pytest.mark.parametrize("name", ["base", "embedded", "redis", "postgres", "amqp"])
def test_objects_wire_together(name: str) -> None:
    docs = render(name)
    deployment = one(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    spec = deployment["spec"]["template"]["spec"]
    container = publisher_container(spec)

    def selects(selector: dict[str, str]) -> bool:
        return all(pod_labels.get(k) == v for k, v in selector.items())

    assert selects(deployment["spec"]["selector"]["matchLabels"])
    service = one(docs, "Service")
    assert selects(service["spec"]["selector"])
    container_ports = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    assert selects(one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    assert selects(one(docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"])
    config_map = one(docs, "ConfigMap")["metadata"]["name"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["config"]["configMap"]["name"] == config_map
    account = one(docs, "ServiceAccount")
    assert spec["serviceAccountName"] == account["metadata"]["name"]
    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]+", role)
    if name not in {"redis", "postgres", "amqp"}:
        (token,) = [e for e in container["env"] if e["name"] == "PUBLISHER__INGEST__TOKEN"]
        assert token["valueFrom"]["secretKeyRef"] == {
            "name": "partner-publisher-ingest",
            "key": "token",
        }


def test_sidecar_starts_before_the_app_and_ingests_on_loopback() -> None:
    docs = render("sidecar")
    spec = pod_spec(docs)
    (sidecar,) = spec["initContainers"]
    assert sidecar["restartPolicy"] == "Always", "a native sidecar outlives the app container"
    config = config_of(docs)
    assert config["ingest"]["host"] == "127.0.0.1"
    app_env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert app_env["EVENTS_URL"] == f"http://127.0.0.1:{config['ingest']['port']}/v1/events"


def test_service_monitor_scrapes_the_metrics_port() -> None:
    monitor = one(render("prometheus"), "ServiceMonitor")["spec"]
    service = one(render("base"), "Service")
    assert all(
        service["metadata"]["labels"].get(k) == v
        for k, v in monitor["selector"]["matchLabels"].items()
    )
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"


def test_grafana_dashboard_config_map_carries_the_sidecar_label() -> None:
    config_map = one(render("grafana"), "ConfigMap")
    assert config_map["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert "partner-publisher.json" in config_map["data"]


def _write_config(directory: Path, docs: tuple[dict[str, Any], ...], data: Any = None) -> Path:
    path = directory / "config.yaml"
    text = one(docs, "ConfigMap")["data"]["config.yaml"] if data is None else yaml.safe_dump(data)
    path.write_text(text, encoding="utf-8")
    return path
