"""ops/k8s/ fits together and fits the hub: the StatefulSet's probes, ports, state volume and
commands match the settings and the `hub` command, the Job and the workers share one broker and
group, the PodMonitor finds the pods under the job the alerts name, and the PrometheusRule holds
exactly ops/prometheus/rules. No cluster here: checked statically (and with `kubectl kustomize`
and promtool where installed)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from hub.cli import build_parser
from hub.settings import Settings

ROOT = Path(__file__).parents[2]
K8S = ROOT / "ops" / "k8s"
RULES = ROOT / "ops" / "prometheus" / "rules"
Doc = dict[str, Any]


def _docs() -> list[Doc]:
    found: list[Doc] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return _docs()


def _one(docs: list[Doc], kind: str) -> Doc:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def _container(pod_owner: Doc) -> Doc:
    (container,) = pod_owner["spec"]["template"]["spec"]["containers"]
    found: Doc = container
    return found


def _env(docs: list[Doc], container: Doc) -> dict[str, str]:
    """The container's environment as the pod sees it: its ConfigMaps, then its own env."""
    configs = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= configs[source["configMapRef"]["name"]]
    env |= {item["name"]: item["value"] for item in container.get("env", [])}
    return env


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_prometheusrule", K8S / "build_prometheusrule.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_manifest_is_in_the_kustomization_and_named(docs: list[Doc]) -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    for doc in docs:
        assert doc["apiVersion"], doc
        assert doc["metadata"]["name"], doc


def test_workers_are_a_statefulset_behind_a_headless_service(docs: list[Doc]) -> None:
    workers, service = _one(docs, "StatefulSet"), _one(docs, "Service")
    assert workers["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    pod_labels = workers["spec"]["template"]["metadata"]["labels"]
    assert _matches(workers["spec"]["selector"]["matchLabels"], pod_labels)
    assert _matches(service["spec"]["selector"], pod_labels)
    assert _matches(
        _one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], pod_labels
    )


def test_each_worker_keeps_its_state_on_its_own_volume(docs: list[Doc]) -> None:
    workers = _one(docs, "StatefulSet")
    container = _container(workers)
    (claim,) = workers["spec"]["volumeClaimTemplates"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == claim["metadata"]["name"]]
    state_dir = Path(_env(docs, container)["HUB_STATE_DIR"])
    assert Path(mount["mountPath"]) in (state_dir, *state_dir.parents)
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # The volume is written by the image's non-root user: fsGroup gives it the volume.
    security = workers["spec"]["template"]["spec"]["securityContext"]
    assert security["fsGroup"] == security["runAsGroup"]


def test_probes_ask_livez_and_readyz_on_the_web_port(docs: list[Doc]) -> None:
    container = _container(_one(docs, "StatefulSet"))
    (port,) = container["ports"]
    assert str(port["containerPort"]) == _env(docs, container)["HUB_WORKER_WEB_PORT"]
    assert _env(docs, container)["HUB_WORKER_WEB_HOST"] == "0.0.0.0"
    for probe, path in (
        ("startupProbe", "/livez"),
        ("livenessProbe", "/livez"),
        ("readinessProbe", "/readyz"),
    ):
        get = container[probe]["httpGet"]
        assert (get["path"], get["port"]) == (path, port["name"]), probe


def test_the_job_applies_the_topics_and_the_pods_run_a_worker(docs: list[Doc]) -> None:
    # The image's entrypoint is `hub`: a container's args are the `hub` command's arguments.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["hub"\]', dockerfile, re.M)
    job, workers = _one(docs, "Job"), _one(docs, "StatefulSet")
    assert _container(job)["args"] == ["topics", "apply"]
    assert build_parser().parse_args(_container(job)["args"]).handler is not None
    args = build_parser().parse_args(_container(workers)["args"])
    assert args.command == "worker"
    assert "command" not in _container(job)
    assert "command" not in _container(workers)
    assert _container(job)["image"] == _container(workers)["image"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def test_job_and_workers_share_one_broker_group_and_topic_layout(docs: list[Doc]) -> None:
    job = _env(docs, _container(_one(docs, "Job")))
    workers = _env(docs, _container(_one(docs, "StatefulSet")))
    for key in (
        "HUB_KAFKA_BOOTSTRAP_SERVERS",
        "HUB_APP_ID",
        "HUB_TOPIC_PREFIX",
        "HUB_KAFKA_PARTITIONS",
        "HUB_KAFKA_REPLICATION_FACTOR",
    ):
        assert job.get(key) == workers.get(key), key


def test_every_hub_variable_is_a_setting_with_a_valid_value(docs: list[Doc]) -> None:
    for owner in (_one(docs, "Job"), _one(docs, "StatefulSet")):
        env = _env(docs, _container(owner))
        overrides = {k.removeprefix("HUB_").lower(): v for k, v in env.items()}
        unknown = {k for k in env if not k.startswith("HUB_")} | (
            set(overrides) - set(Settings.model_fields)
        )
        assert not unknown, f"{owner['kind']}: {sorted(unknown)} are no settings"
        Settings(**overrides)  # type: ignore[arg-type]


def test_the_pod_monitor_scrapes_the_workers_under_the_job_the_alerts_name(
    docs: list[Doc],
) -> None:
    monitor, workers = _one(docs, "PodMonitor"), _one(docs, "StatefulSet")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    pod_labels = workers["spec"]["template"]["metadata"]["labels"]
    assert _matches(monitor["spec"]["selector"]["matchLabels"], pod_labels)
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in _container(workers)["ports"]}
    job = pod_labels[monitor["spec"]["jobLabel"]]
    jobs = set(re.findall(r'job="([^"]+)"', (RULES / "hub.yml").read_text()))
    assert jobs == {job}


def test_the_prometheus_rule_is_the_rule_files(docs: list[Doc]) -> None:
    rule = _one(docs, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    groups: list[Doc] = []
    for path in sorted(RULES.glob("*.yml")):
        groups += yaml.safe_load(path.read_text())["groups"]
    assert rule["spec"]["groups"] == groups, (
        "ops/k8s/prometheusrule.yaml differs from ops/prometheus/rules: "
        "run python ops/k8s/build_prometheusrule.py"
    )
    # Byte for byte what the generator writes, so a hand edit there is caught too.
    assert (K8S / "prometheusrule.yaml").read_text() == _load_builder().render()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_prometheus_rules_groups(docs: list[Doc], tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": _one(docs, "PrometheusRule")["spec"]["groups"]}))
    result = subprocess.run(
        ["promtool", "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_every_manifest() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(result.stdout) if doc)
    assert kinds == sorted(doc["kind"] for doc in _docs())
