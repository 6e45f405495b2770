"""32 concurrent requests through the micro-batcher get the answers they get alone."""

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from tests.service.conftest import fresh_scenes, png_bytes


def test_32_concurrent_requests_match_sequential(client: TestClient) -> None:
    requests = []
    for scene in fresh_scenes(32, seed=303, max_side=320):
        boxes = str([list(d.box) for d in scene.digits])
        requests.append((png_bytes(scene.image), boxes))

    def labels(request: tuple[bytes, str]) -> list[str]:
        image, boxes = request
        response = client.post(
            "/classify-regions", files={"image": ("x.png", image)}, data={"boxes": boxes}
        )
        assert response.status_code == 200, response.text
        return [r["label"] for r in response.json()["regions"]]

    alone = [labels(r) for r in requests]
    with ThreadPoolExecutor(32) as pool:
        together = list(pool.map(labels, requests))
    assert together == alone
    metrics = client.get("/metrics").text
    assert "regionserve_batch_size_count" in metrics
