"""The manifests: valid offline against Kubernetes' schemas and the KServe SDK's types (a
misspelled field fails), and the Deployment's pod run from the built image by `podman kube
play`, answering a classification, then torn down."""

import json
from pathlib import Path

import pytest

from deploy.tests.classify import labels
from deploy.tests.podman import ROOT, inspect, podman, run, wait_ready
from tests.service.service_process import free_port

DEPLOY_PYTHON = str(ROOT / ".venv-deploy" / "bin" / "python")
VALIDATE = "deploy/validate_manifests.py"
DEPLOYMENT = ROOT / "deploy" / "kubernetes" / "deployment.yaml"
KINDS = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} | {
    "InferenceService"
}
YAML_TO_JSON = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"


def test_every_manifest_validates_offline() -> None:
    lines = run(DEPLOY_PYTHON, VALIDATE).splitlines()
    assert all(": valid against " in line for line in lines), lines
    assert {line.split()[1] for line in lines} == KINDS
    assert any("gpu Deployment" in line for line in lines)  # the rendered GPU overlay


@pytest.mark.parametrize("manifest", ["kubernetes/deployment.yaml", "kserve/inferenceservice.yaml"])
def test_a_misspelled_field_fails_validation(manifest: str, tmp_path: Path) -> None:
    text = (ROOT / "deploy" / manifest).read_text()
    misspelled = tmp_path / Path(manifest).name
    misspelled.write_text(text.replace("readOnlyRootFilesystem", "readOnlyRootFileSystem"))
    assert misspelled.read_text() != text
    output = run(DEPLOY_PYTHON, VALIDATE, str(misspelled), check=False)
    assert "INVALID" in output and "readOnlyRootFileSystem" in output, output


def test_the_deployments_pod_runs_under_podman_kube_play(
    image: str, reference: str, tmp_path: Path
) -> None:
    """One replica, published on a free loopback port: Podman would publish the container
    port on every interface; the pod template is otherwise the manifest's."""
    deployment = json.loads(run(DEPLOY_PYTHON, "-c", YAML_TO_JSON, str(DEPLOYMENT)))
    port = free_port()
    deployment["spec"]["replicas"] = 1
    pod = deployment["spec"]["template"]["spec"]
    pod["containers"][0]["ports"][0].update(hostIP="127.0.0.1", hostPort=port)
    played = tmp_path / "deployment.json"
    played.write_text(json.dumps(deployment))
    podman("kube", "play", str(played))
    try:
        name = podman("ps", "--format", "{{.Names}}", "--filter", "name=-regionserve$").strip()
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(base_url, name)
        config = inspect(name)
        assert config["Config"]["User"] == "10001:10001"
        assert config["HostConfig"]["ReadonlyRootfs"] is True
        assert labels(base_url, "boxes") == labels(reference, "boxes")
    finally:
        podman("kube", "down", str(played))
        podman("network", "rm", "podman-default-kube-network", check=False)  # made by kube play
    assert podman("pod", "ps", "--quiet", "--filter", "name=regionserve-pod") == ""
    assert podman("ps", "--all", "--quiet", "--filter", "name=regionserve-pod") == ""
