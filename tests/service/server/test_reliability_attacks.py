"""Issue 30's attacks against a real `python -m service`, at sizes CI's 2 cores take: each
answer, the service's peak memory (VmHWM from /proc) and its probes while it lasts."""

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from service.server.guarded_protocol import SERVER_ROUTE
from tests.service.served import Served, parse_response, read_until_closed, served

MAX_CONNECTIONS = 12
MiB = 2**20
V2_INFER = "/v2/models/region_classifier/infer"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(
        tmp_path_factory.mktemp("logs"),
        processes=1,
        inference_workers=1,
        max_header_bytes=4096,
        max_connections=MAX_CONNECTIONS,
        send_timeout_s=1.0,
        keep_alive_timeout_s=2.0,
        max_answer_mib=1,
    ) as running:
        yield running


def peak_mib(service: Served) -> float:
    """The process's resident peak so far (VmHWM), in MiB."""
    with open(f"/proc/{service.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def v2_request(header: dict[str, object], binary: bytes = b"") -> tuple[bytes, dict[str, str]]:
    text = json.dumps(header).encode()
    headers = {"Inference-Header-Content-Length": str(len(text))} if binary else {}
    return text + binary, headers


def feed_header(
    inputs: list[tuple[str, list[int], str, int]], binary_output: bool = False
) -> dict[str, object]:
    """(name, shape, datatype, binary size) each."""
    return {
        "inputs": [
            {"name": n, "shape": s, "datatype": d, "parameters": {"binary_data_size": b}}
            for n, s, d, b in inputs
        ],
        "parameters": {"binary_data_output": binary_output},
    }


def raw_feed(
    images: np.ndarray, rois: np.ndarray, grids: np.ndarray
) -> tuple[bytes, dict[str, str]]:
    header = feed_header(
        [
            ("image", list(images.shape), "UINT8", images.nbytes),
            ("rois", list(rois.shape), "FP32", rois.nbytes),
            ("superpixels", list(grids.shape), "INT32", grids.nbytes),
        ]
    )
    return v2_request(header, images.tobytes() + rois.tobytes() + grids.tobytes())


def small_feed(batch: int = 1, side: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images = np.zeros((batch, side, side, 3), np.uint8)
    rois = np.array([[i, 0, 0, 8, 8] for i in range(batch)], np.float32)
    grids = np.zeros((batch, side // 4, side // 4), np.int32)
    return images, rois, grids


def post(service: Served, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{service.base}{path}", content=body, headers=headers, timeout=60)


def error(response: httpx.Response) -> str:
    return str(response.json()["error"])


# -- the small exact fixes ----------------------------------------------------------------


def test_a_non_ascii_digit_header_length_is_a_400(service: Served) -> None:
    """b"\\xb9" is '¹' in latin-1, and '¹'.isdigit() holds."""
    body, _ = raw_feed(*small_feed())
    response = post(
        service,
        V2_INFER,
        body,
        {"Inference-Header-Content-Length": b"\xb9"},  # type: ignore[dict-item]
    )
    assert response.status_code == 400
    assert error(response).startswith("Inference-Header-Content-Length must be a byte count")


def test_a_head_of_many_headers_in_one_chunk_gets_431_and_is_counted(service: Served) -> None:
    counted = service.counted(SERVER_ROUTE, 431)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 1000 + b"\r\n"
    with service.connect() as sock:
        sock.sendall(head)  # 8 KB: one read completes it
        response = parse_response(read_until_closed(sock))
    assert response.status == 431
    assert response.problem()["detail"] == "the request head passes the limit of 4096 bytes"
    assert service.counted(SERVER_ROUTE, 431) == counted + 1


def test_malformed_framing_is_counted(service: Served) -> None:
    counted = service.counted(SERVER_ROUTE, 400)
    with service.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nno colon\r\n\r\n")
        assert parse_response(read_until_closed(sock)).status == 400
    assert service.counted(SERVER_ROUTE, 400) == counted + 1


def test_content_codings_are_case_insensitive(service: Served) -> None:
    body, headers = raw_feed(*small_feed())
    response = post(service, V2_INFER, gzip.compress(body), headers | {"Content-Encoding": "GZIP"})
    assert response.status_code == 200, response.text


def test_a_second_gzip_member_is_refused(service: Served) -> None:
    body, headers = raw_feed(*small_feed())
    two = gzip.compress(body) + gzip.compress(b"more")
    response = post(service, V2_INFER, two, headers | {"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "after its compressed stream" in error(response)


def test_superpixel_ids_below_minus_one_are_refused(service: Served) -> None:
    images, rois, grids = small_feed()
    grids[0, 0, 0] = -2
    response = post(service, V2_INFER, *raw_feed(images, rois, grids))
    assert response.status_code == 400
    assert (
        error(response)
        == "input 'superpixels': superpixel id -2; ids are -1 (no superpixel) or from 0"
    )


def test_a_model_refusal_names_no_library_source_path(service: Served) -> None:
    images, rois, grids = small_feed()
    rois[0, 0] = 7  # an image past the batch
    response = post(service, V2_INFER, *raw_feed(images, rois, grids))
    assert response.status_code == 400
    message = error(response)
    assert message.startswith("the model refused these inputs: ")
    assert "onnxruntime_src" not in message and ".cc:" not in message and ".h:" not in message


def test_a_refused_upgrade_writes_one_info_line(service: Served) -> None:
    before = service.log()
    with service.connect() as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\n"
            b"Upgrade: websocket\r\n\r\n"
        )
        assert parse_response(read_until_closed(sock)).status == 200
    new = service.log()[len(before) :]
    assert new.count("upgrade to 'websocket' refused") == 1
    assert "WARNING" not in new


# -- one budget for every way in -------------------------------------------------------------


def test_a_large_image_of_zeros_on_v2_is_a_413_without_the_memory(service: Served) -> None:
    """2 concurrent feeds of a 2540x2540 image, gzip 20 KB each: +1,410 MiB before."""
    before = peak_mib(service)
    images, rois, grids = small_feed(1, 2540)
    body, headers = raw_feed(images, rois, grids)
    packed = gzip.compress(body)
    results: list[httpx.Response] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                post(service, V2_INFER, packed, headers | {"Content-Encoding": "gzip"})
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [413, 413]
    assert "images of 2540x2540; the model takes at most 1024x1024" in error(results[0])
    assert peak_mib(service) - before < 120


def test_rois_are_limited_per_request_not_per_image(service: Served) -> None:
    """64 images of 16x16 with 256 rois each: 16,384 rois in one run before."""
    before = peak_mib(service)
    images, _, grids = small_feed(64)
    rois = np.array([[i, 0, 0, 8, 8] for i in range(64) for _ in range(256)], np.float32)
    response = post(service, V2_INFER, *raw_feed(images, rois, grids))
    assert response.status_code == 413
    assert error(response).startswith("input 'rois': 16384 rois; the limit is 256 per request")
    assert peak_mib(service) - before < 50


def test_an_answer_estimated_past_the_limit_is_refused_before_the_run(service: Served) -> None:
    """60 images of 4x4 whose superpixel ids are all 1023, JSON out: 16 MB of scores."""
    images = np.zeros((60, 4, 4, 3), np.uint8)
    rois = np.array([[0, 0, 0, 2, 2]], np.float32)
    grids = np.full((60, 1, 1), 1023, np.int32)
    response = post(service, V2_INFER, *raw_feed(images, rois, grids))
    assert response.status_code == 413
    assert error(response).startswith("the answer would take about 15 MiB; the limit is 1 MiB")


# -- parsing bounded before it allocates --------------------------------------------------------


def test_a_v2_header_of_millions_of_lists_is_refused_before_parsing(service: Served) -> None:
    """An 8 MB header of `[[],[],...]` as rois data (gzip 8 KB): 2.7 M lists before."""
    before = peak_mib(service)
    lists = b"[" + b"[]," * (8 * MiB // 3) + b"[]]"
    header = (
        b'{"inputs": [{"name": "rois", "shape": [1, 5], "datatype": "FP32", "data": '
        + lists
        + b"}]}"
    )
    response = post(service, V2_INFER, gzip.compress(header), {"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert error(response) == "the inference request's JSON holds more than 1048576 JSON values"
    assert peak_mib(service) - before < 60


def test_a_boxes_field_of_millions_of_lists_is_refused_before_parsing(service: Served) -> None:
    """An 8 MB multipart `boxes` field of empty lists: 2.7 M lists before."""
    before = peak_mib(service)
    boxes = "[" + "[]," * (8 * MiB // 3) + "[]]"
    files = {"image": ("x.png", b"\x89PNG")}
    response = httpx.post(
        f"{service.base}/classify-regions", files=files, data={"boxes": boxes}, timeout=60
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "boxes holds more than 65536 JSON values"
    assert peak_mib(service) - before < 60


def test_a_bytes_tensor_of_millions_of_elements_is_refused_from_its_shape(service: Served) -> None:
    """1 M empty BYTES elements (4 MB, gzip 4 KB) to the -regions model."""
    count = 2**20
    header = feed_header([("image", [count], "BYTES", 4 * count)])
    body, headers = v2_request(header, bytes(4 * count))
    start = time.monotonic()
    response = post(
        service,
        "/v2/models/region_classifier-regions/infer",
        gzip.compress(body),
        headers | {"Content-Encoding": "gzip"},
    )
    assert response.status_code == 413
    assert time.monotonic() - start < 2


# -- clients that never read ----------------------------------------------------------------------


def test_clients_that_never_read_are_cut_off_and_probes_still_answer(service: Served) -> None:
    """Every connection slot asks for the 1.5 MB Swagger bundle 6 times into a 2 KB receive
    window: past the kernel's 4 MB send buffer, the answers wait in the server's."""
    stalled = []
    for _ in range(MAX_CONNECTIONS):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.connect(("127.0.0.1", service.port))
        sock.sendall(b"GET /docs/assets/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n" * 6)
        stalled.append(sock)
    try:
        time.sleep(0.3)
        assert httpx.get(f"{service.base}/healthz", timeout=2).status_code == 200
        assert httpx.get(f"{service.base}/readyz", timeout=2).status_code == 200
        time.sleep(2.5)  # the send timeout (1 s) has aborted them
        assert httpx.get(f"{service.base}/v1/model", timeout=2).status_code == 200
    finally:
        for sock in stalled:
            sock.close()
    assert "an answer did not drain within 1 s" in service.log()
