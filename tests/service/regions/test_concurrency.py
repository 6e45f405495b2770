"""32 concurrent requests through the micro-batcher get the answers they get alone."""

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import fresh_scenes, png_bytes, wait_ready


def test_32_concurrent_requests_match_sequential(settings: Settings) -> None:
    # Batching is off by default on CPU; this test turns it on to pad images into batches.
    batching = settings.model_copy(update={"max_batch_size": 8})
    with TestClient(create_app(batching)) as client:
        wait_ready(client)
        check_concurrent_answers(client)


def check_concurrent_answers(client: TestClient) -> None:
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
    batches = float(metrics.split("regionserve_batch_size_count ")[1].split()[0])
    images = float(metrics.split("regionserve_batch_size_sum ")[1].split()[0])
    assert images > batches  # some batches held more than one image
