"""V2 requests are counted like the others: by route template and status."""

import re

import httpx

from tests.service.v2.conftest import Served


def count(served: Served, route: str, status: int) -> float:
    text = httpx.get(f"{served.base}/metrics").text
    pattern = rf'regionserve_requests_total\{{route="{re.escape(route)}",status="{status}"\}} (\S+)'
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def test_infer_and_metadata_are_counted_by_route_template(served: Served) -> None:
    infer = "/v2/models/{name}/infer"
    metadata = "/v2/models/{name}/versions/{version}"
    before = count(served, infer, 400), count(served, metadata, 200)
    httpx.post(f"{served.base}/v2/models/{served.model}/infer", json={"inputs": []})
    httpx.get(f"{served.base}/v2/models/{served.model}/versions/{served.version}")
    after = count(served, infer, 400), count(served, metadata, 200)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
