"""The rooms' rules (issue 27): the region API and V2 never import each other; the regions
and the inference know no web framework; the domain errors import nothing."""

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).parents[2] / "service"


def imports(folder: str) -> dict[str, set[str]]:
    """Module path -> the modules it imports, for every file under service/<folder>."""
    found: dict[str, set[str]] = {}
    for path in sorted((SERVICE / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(SERVICE.parent))] = names
    return found


SIBLINGS = [("region_api", "service.v2"), ("v2", "service.region_api")]
# A web framework, or the service's own HTTP rooms; starlette.concurrency (its thread pool) is
# the one part of it the pipeline uses.
WEB = ("fastapi", "uvicorn", "starlette", "service.http", "service.region_api", "service.v2")


@pytest.mark.parametrize(("folder", "other"), SIBLINGS)
def test_the_protocols_are_siblings(folder: str, other: str) -> None:
    borrowed = {
        path: sorted(n for n in names if n == other or n.startswith(other + "."))
        for path, names in imports(folder).items()
    }
    assert {path: names for path, names in borrowed.items() if names} == {}


@pytest.mark.parametrize("folder", ["regions", "inference"])
def test_no_web_framework_below_the_protocols(folder: str) -> None:
    web = {
        path: sorted(n for n in names if n.startswith(WEB) and n != "starlette.concurrency")
        for path, names in imports(folder).items()
    }
    assert {path: names for path, names in web.items() if names} == {}


def test_the_domain_errors_import_nothing() -> None:
    tree = ast.parse((SERVICE / "errors.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
