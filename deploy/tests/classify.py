"""One classification per mode, the same request for the image and for `make serve`."""

import httpx

from deploy.tests.podman import ROOT

EXAMPLE = ROOT / "models" / "example.png"
FIELDS_BY_MODE = {
    "boxes": {"boxes": "[[125, 108, 144, 147], [75, 175, 110, 262], [186, 192, 225, 271]]"},
    "proposals": {"mode": "proposals"},
    "superpixels": {"mode": "superpixels"},
}


def classify(base_url: str, mode: str, timeout_s: float = 60) -> httpx.Response:
    return httpx.post(
        f"{base_url}/classify-regions",
        files={"image": ("example.png", EXAMPLE.read_bytes())},
        data=FIELDS_BY_MODE[mode],
        timeout=timeout_s,
    )


def labels(base_url: str, mode: str) -> list[str]:
    response = classify(base_url, mode)
    assert response.status_code == 200, response.text
    return [region["label"] for region in response.json()["regions"]]
