"""Validates the deployment manifests offline: Kubernetes' own kinds against Kubernetes'
schemas (kubernetes-validate, strict: unknown fields fail) for each version in VERSIONS, and
KServe's InferenceService against the KServe SDK's types (every field must be one the types
know, required ones present). A kustomization folder is rendered first (its resources with
their JSON patches applied). Runs in .venv-deploy: `make image-test` installs it.

    .venv-deploy/bin/python deploy/validate_manifests.py [PATH ...]
"""

import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonpatch
import kserve.models
import kubernetes.client.models
import kubernetes_validate
import yaml

DEPLOY = Path(__file__).parent
VERSIONS = ("1.30.0", "1.37.0")
DEFAULT_PATHS = (
    DEPLOY / "kubernetes",
    DEPLOY / "kubernetes" / "gpu",
    DEPLOY / "kubernetes" / "hpa-queue-depth.yaml",
    DEPLOY / "kserve" / "inferenceservice.yaml",
)
PRIMITIVES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "bool": bool,
    "float": (int, float),
    "object": object,
}


def documents(path: Path) -> list[dict[str, Any]]:
    """A file's YAML documents, or a kustomization folder's resources with its patches."""
    if path.is_file():
        return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    kustomization = yaml.safe_load((path / "kustomization.yaml").read_text())
    docs = [doc for resource in kustomization["resources"] for doc in documents(path / resource)]
    for patch in kustomization.get("patches", []):
        operations = jsonpatch.JsonPatch(yaml.safe_load((path / patch["path"]).read_text()))
        target = patch["target"]
        for i, doc in enumerate(docs):
            if (doc["kind"], doc["metadata"]["name"]) == (target["kind"], target["name"]):
                docs[i] = operations.apply(doc)
    return docs


def typed(data: Any, type_name: str, where: str) -> Any:
    """`data` read into the SDK's type `type_name`; a field the type lacks is an error."""
    if match := re.fullmatch(r"[lL]ist\[(.+)\]", type_name):
        assert isinstance(data, list), f"{where}: a list expected"
        return [typed(item, match[1], f"{where}/{i}") for i, item in enumerate(data)]
    if match := re.fullmatch(r"dict\(str, (.+)\)|Dict\[str, (.+)\]", type_name):
        assert isinstance(data, dict), f"{where}: a mapping expected"
        item_type = match[1] or match[2]
        return {key: typed(value, item_type, f"{where}/{key}") for key, value in data.items()}
    if type_name in PRIMITIVES:
        assert isinstance(data, PRIMITIVES[type_name]), f"{where}: {type_name} expected"
        return data
    model = getattr(kserve.models, type_name, None) or getattr(kubernetes.client.models, type_name)
    assert isinstance(data, dict), f"{where}: a {type_name} mapping expected"
    attributes = {field: attribute for attribute, field in model.attribute_map.items()}
    unknown = set(data) - set(attributes)
    assert not unknown, f"{where}: {type_name} has no field {sorted(unknown)}"
    fields = {
        attributes[field]: typed(value, model.openapi_types[attributes[field]], f"{where}/{field}")
        for field, value in data.items()
    }
    return model(**fields)  # the SDK's own checks: required fields, allowed values


def validate(doc: dict[str, Any]) -> str:
    if doc["apiVersion"].startswith("serving.kserve.io/"):
        typed(doc, f"V1beta1{doc['kind']}", doc["kind"])
        return f"KServe SDK {metadata.version('kserve')} types"
    for version in VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)
    return f"Kubernetes {', '.join(VERSIONS)} schemas (strict)"


def main(paths: list[Path]) -> int:
    failed = 0
    for path in paths:
        for doc in documents(path):
            name = f"{path} {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
            try:
                print(f"{name}: valid against {validate(doc)}")
            except (AssertionError, ValueError, kubernetes_validate.ValidationError) as error:
                print(f"{name}: INVALID: {getattr(error, 'message', error)}")
                failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main([Path(arg) for arg in sys.argv[1:]] or list(DEFAULT_PATHS)))
