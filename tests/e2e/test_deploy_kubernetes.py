"""Kubernetes manifests: every resource validates against the Kubernetes schemas, and the
kustomize builds carry the settings of the reference workflow."""
import pathlib
import shutil
import subprocess

import pytest
import yaml

K8S = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
OVERLAYS = ["base", "overlays/gke", "overlays/dcgm"]
# Custom resources that the Kubernetes schemas do not describe, checked by hand below.
CUSTOM_KINDS = {"BackendConfig"}

kubernetes_validate = pytest.importorskip("kubernetes_validate")


def kustomize_build(path):
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (with built-in kustomize) not installed")
    out = subprocess.run(["kubectl", "kustomize", str(K8S / path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    assert found, f"no {kind} in build"
    return found[0]


@pytest.mark.parametrize("path", OVERLAYS)
def test_every_resource_validates(path):
    for doc in kustomize_build(path):
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, "1.30.0", strict=True)


@pytest.mark.parametrize("path", sorted(str(p.relative_to(K8S)) for p in K8S.rglob("*.yaml")
                                        if p.name != "kustomization.yaml"))
def test_source_files_parse(path):
    docs = [d for d in yaml.safe_load_all((K8S / path).read_text()) if d]
    assert docs and all("kind" in d for d in docs)


def test_probes_and_drain():
    dep = by_kind(kustomize_build("base"), "Deployment")
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["readinessProbe"]["httpGet"] == {"path": "/v1/models/default", "port": 8888}
    assert c["startupProbe"]["httpGet"]["path"] == "/v1/models/default"
    assert "livenessProbe" in c
    assert c["resources"]["limits"]["nvidia.com/gpu"] >= 1
    assert "--rest-api-port=8888" in c["args"]
    assert pod["terminationGracePeriodSeconds"] >= 30
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def test_autoscaler_matches_reference_workflow():
    hpa = by_kind(kustomize_build("base"), "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 360
    metric = hpa["spec"]["metrics"][0]["pods"]
    assert metric["metric"]["name"] == "kiln_gpu_utilization_percent"
    assert metric["target"]["averageValue"] == "85"
    dcgm = by_kind(kustomize_build("overlays/dcgm"), "HorizontalPodAutoscaler")
    assert dcgm["spec"]["metrics"][0]["pods"]["metric"]["name"] == "dcgm_gpu_utilization_percent"


def test_adapter_rules_define_the_hpa_metrics():
    cm = by_kind(kustomize_build("base"), "ConfigMap")
    rules = yaml.safe_load(cm["data"]["config.yaml"])["rules"]
    names = {r["name"]["as"] for r in rules}
    assert {"kiln_gpu_utilization_percent", "dcgm_gpu_utilization_percent"} <= names


def test_gke_load_balancer_health_check():
    docs = kustomize_build("overlays/gke")
    bc = by_kind(docs, "BackendConfig")
    assert bc["spec"]["healthCheck"]["requestPath"] == "/v1/models/default"
    assert bc["spec"]["healthCheck"]["port"] == 8888
    svc = by_kind(docs, "Service")
    assert "kiln-backendconfig" in svc["metadata"]["annotations"]["cloud.google.com/backend-config"]
    ing = by_kind(docs, "Ingress")
    assert ing["spec"]["defaultBackend"]["service"]["port"]["number"] == 8888


def test_network_policy_admits_only_8888():
    np = by_kind(kustomize_build("base"), "NetworkPolicy")
    ports = [p["port"] for rule in np["spec"]["ingress"] for p in rule["ports"]]
    assert ports == [8888]


def test_burn_job_runs_kiln_burn():
    job = by_kind(kustomize_build("base"), "Job")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "burn" and "--gpus=all" in args
