"""Memory bounds: a hostile image's peak in a real process, and superpixel masks at full size
computed from runs, equal to masks of the ids materialised at that size."""

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from service.regions.superpixels import masks
from tests.service.served import Served, served


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("logs"), inference_workers=1) as running:
        yield running


def resident_mib(pid: int, field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident since the last reset), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(s for s in status if s.startswith(field + ":")).split()[1]) / 1024


def test_a_16_bit_6300x6300_png_peaks_under_400_mib(service: Served) -> None:
    """77 KB on the wire, 6300x6300 16-bit grey: +1.3 GiB of peak before decoding reduced."""
    grey = np.zeros((6300, 6300), np.uint16)
    grey[::7, ::5] = 40000
    out = io.BytesIO()
    Image.fromarray(grey).save(out, format="PNG")
    pid = service.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak restarts from resident now
    before = resident_mib(pid, "VmRSS")
    response = httpx.post(
        f"{service.base}/classify-regions",
        files={"image": ("x.png", out.getvalue())},
        data={"boxes": "[[0, 0, 100, 100]]"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["image"] == {
        "width": 6300,
        "height": 6300,
        "resized_to": {"width": 1024, "height": 1024},  # the shipped model's max_image_side
    }
    assert resident_mib(pid, "VmHWM") - before < 400


def reference_regions(ids: np.ndarray, width: int, height: int) -> list[tuple[list, np.ndarray]]:
    """(box, mask) of each id, read from the ids enlarged to width x height by nearest
    neighbour."""
    rows = np.minimum((np.arange(height) + 0.5) * ids.shape[0] / height, ids.shape[0] - 1)
    cols = np.minimum((np.arange(width) + 0.5) * ids.shape[1] / width, ids.shape[1] - 1)
    full = ids[rows.astype(int)[:, None], cols.astype(int)[None, :]]
    out = []
    for s in range(int(ids.max()) + 1):
        ys, xs = np.nonzero(full == s)
        if not len(xs):  # an id no pixel has
            out.append(([0.0] * 4, full == s))
            continue
        box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
        out.append((box, full == s))
    return out


def decoded(found: list[tuple[list, dict]]) -> list[tuple[list, np.ndarray]]:
    """(box, mask) of each region, its COCO RLE decoded by pycocotools."""
    return [
        (box, coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()}) == 1)
        for box, rle in found
    ]


def test_superpixel_masks_from_runs_equal_masks_of_the_enlarged_ids() -> None:
    rng = np.random.default_rng(7)
    for _ in range(60):
        height, width = rng.integers(1, 24, 2)
        blocks = rng.integers(0, 9, (int(height) // 3 + 1, int(width) // 3 + 1))
        ids = np.repeat(np.repeat(blocks, 3, 0), 3, 1)[:height, :width].astype(np.int32)
        if rng.random() < 0.3:  # scattered ids, some absent
            ids = rng.integers(0, 12, (height, width)).astype(np.int32)
        full_w, full_h = int(width + rng.integers(0, 50)), int(height + rng.integers(0, 50))
        got, want = (
            decoded(list(masks(ids, full_w, full_h))),
            reference_regions(ids, full_w, full_h),
        )
        assert [box for box, _ in got] == [box for box, _ in want]
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(got, want, strict=True))
