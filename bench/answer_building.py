"""Stages of bench front-end, in this process: decoding, and a superpixels answer built
(masks, regions, the answer's JSON bytes), the functions as committed before
(loaded from their files in the `git archive`) beside today's, on the same inputs."""

import importlib
import io
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image
from pydantic_core import to_json

from bench.report import table
from bench.scenes import request_images
from service.inference.model_info import ModelInfo
from service.regions import imaging, labels, superpixels
from service.regions.answer import ImageSize, ModelId, Region, RegionsAnswer
from service.regions.answer_json import answer_json

REPEATS, BLOCK = 200, 10
CLASSES = 11


def old(tree: Path, *names: str) -> list[ModuleType]:
    """service.regions.<name> of the archived tree for each name, imported together with the
    archive's own `service` package (its decoders, helpers and classes, not today's); today's
    modules are back afterwards."""
    ours = {k: sys.modules.pop(k) for k in list(sys.modules) if k.partition(".")[0] == "service"}
    sys.path.insert(0, str(tree))
    try:
        return [importlib.import_module(f"service.regions.{name}") for name in names]
    finally:
        sys.path.remove(str(tree))
        for k in [k for k in sys.modules if k.partition(".")[0] == "service"]:
            del sys.modules[k]
        sys.modules.update(ours)


def alternating_ms(fns: list[Callable[[], Any]]) -> list[float]:
    """Median CPU ms per call of each (this process's: a busy machine's waits left out),
    timed in turns of BLOCK calls, so that what load remains slows them alike."""
    samples: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()
    for _ in range(REPEATS // BLOCK):
        for fn, out in zip(fns, samples, strict=True):
            for _ in range(BLOCK):
                start = time.process_time()
                fn()
                out.append(time.process_time() - start)
    return [statistics.median(s) * 1e3 for s in samples]


def cluttered(side: int = 544) -> np.ndarray:
    """models/example.png (digits among clutter) enlarged to side x side: SLIC at the shipped
    model's area (324 px) makes about 770 superpixels of it."""
    example = Image.open(Path(__file__).parents[1] / "models" / "example.png").convert("RGB")
    return np.asarray(example.resize((side, side), Image.Resampling.BILINEAR))


def answer_of(regions: Sequence[Region], width: int, height: int) -> RegionsAnswer:
    return RegionsAnswer(ModelId("m", "1"), ImageSize(width, height), "superpixels", regions, {})


Writer = Callable[[Sequence[Region]], bytes]  # an answer's regions -> its body


def before_answer(
    masks: Callable[..., Any],
    regions: Callable[..., Any],
    write: Writer,
    ids: np.ndarray,
    scores: np.ndarray,
) -> Callable[[], bytes]:
    """The answer's body as archived functions built it, from the ids."""
    height, width = ids.shape
    return lambda: write(regions(model_info(), masks(ids, width, height), scores, 3))


def writer(answer: ModuleType, module: ModuleType | None) -> Writer:
    """How an archived tree writes an answer's body: its own answer_json where it has one,
    else the JSON document of its Python objects, by pydantic-core."""
    if module is None:
        return before_json
    head = (answer.ModelId("m", "1"), answer.ImageSize(1, 1), "superpixels")
    return lambda regions: bytes(module.answer_json(answer.RegionsAnswer(*head, regions, {})))


def before_json(regions: Sequence[Region]) -> bytes:
    answer = RegionsAnswer(ModelId("m", "1"), ImageSize(1, 1), "superpixels", tuple(regions), {})
    return to_json(answer.as_json(), inf_nan_mode="null")


def now_answer(ids: np.ndarray, scores: np.ndarray) -> Callable[[], bytes]:
    """The answer's body as the service builds it now, from the ids: columns, written in
    one pass."""
    height, width = ids.shape
    return lambda: now_json(
        labels.superpixel_regions(model_info(), superpixels.masks(ids, width, height), scores, 3)
    )


def now_json(regions: Sequence[Region]) -> bytes:
    return answer_json(
        RegionsAnswer(ModelId("m", "1"), ImageSize(1, 1), "superpixels", regions, {})
    )


def model_info() -> ModelInfo:
    info = ModelInfo.__new__(ModelInfo)  # only .classes is read
    object.__setattr__(info, "classes", [str(c) for c in range(CLASSES)])
    return info


Stage = tuple[str, list[Callable[[], Any]]]  # a stage: the befores' functions, then now's


def decode_stages(trees: dict[str, Path]) -> list[Stage]:
    png, _ = request_images(1, 512, 32)[0]
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, format="JPEG", quality=90)
    modules = [old(tree, "imaging")[0] for tree in trees.values()] + [imaging]
    return [
        (name, [partial(m.decode_picture, data, 10**8, 1024, 2**30) for m in modules])
        for name, data in (("decode PNG 512x512", png), ("decode JPEG q90 512x512", out.getvalue()))
    ]


def answer_stages(trees: dict[str, Path]) -> list[Stage]:
    """A superpixels answer from the ids (and its masks alone, and all but its masks), and a
    boxes answer of 32 boxes, each checked byte for byte against the befores'."""
    olds, writes = [], []
    for tree in trees.values():
        columns = (tree / "service/regions/answer_json.py").exists()
        labelling, segmenting, answer, *written = old(
            tree, "labels", "superpixels", "answer", *(["answer_json"] if columns else [])
        )
        olds.append((labelling, segmenting))
        writes.append(writer(answer, written[0] if written else None))
    ids = superpixels.slic_superpixels(cluttered(), 324, 10.0, 1024)
    count, (height, width) = int(ids.max()) + 1, ids.shape
    rng = np.random.default_rng(1)
    scores = rng.dirichlet(np.ones(CLASSES), count).astype(np.float32)
    boxes, box_scores = rng.uniform(0, 500, (32, 4)), scores[:32]
    masks = [m.masks(ids, width, height) for _, m in olds] + [superpixels.masks(ids, width, height)]
    info = model_info()
    stages: list[Stage] = [
        (
            f"superpixels answer, {count} regions (masks, regions, JSON bytes)",
            [
                before_answer(m.masks, r.superpixel_regions, w, ids, scores)
                for (r, m), w in zip(olds, writes, strict=True)
            ]
            + [now_answer(ids, scores)],
        ),
        (
            "of which: masks (boxes and COCO RLE of every id)",
            [partial(m.masks, ids, width, height) for m in [*(m for _, m in olds), superpixels]],
        ),
        (
            "of which: regions and JSON bytes, from masks and scores",
            [
                partial(lambda r, m, w: w(r.superpixel_regions(info, m, scores, 3)), r, m, w)
                for (r, _), m, w in zip(olds, masks, writes, strict=False)
            ]
            + [lambda: now_json(labels.superpixel_regions(info, masks[-1], scores, 3))],
        ),
        (
            "boxes answer, 32 regions (regions, JSON bytes)",
            [
                partial(lambda r, w: w(r.box_regions(info, boxes, box_scores, 3)), r, w)
                for (r, _), w in zip(olds, writes, strict=True)
            ]
            + [lambda: now_json(labels.box_regions(info, boxes, box_scores, 3))],
        ),
    ]
    for name, fns in stages:
        if "masks (" not in name:
            assert len({fn() for fn in fns}) == 1, f"{name}: answers differ"
    return stages


def measure(trees: dict[str, Path]) -> str:
    """The stages' table: each before (commit: tree) and now."""
    rows = []
    for name, fns in decode_stages(trees) + answer_stages(trees):
        *befores, now = alternating_ms(fns)
        ratios = [f"{now / b:.2f}x" for b in befores]
        rows.append([name, *(f"{ms:.2f}" for ms in [*befores, now]), *ratios])
    header = ["stage", *(f"{c} ms CPU" for c in trees), "now ms CPU"]
    header += [f"now / {c}" for c in trees]
    note = (
        f"Stages in one process, median CPU ms of {REPEATS} calls each, the trees taking turns in "
        f"blocks of {BLOCK}; same inputs, same output (checked byte for byte)."
    )
    return f"{note}\n\n{table(header, rows)}"


if __name__ == "__main__":
    import sys

    print(measure({Path(t).name: Path(t) for t in sys.argv[1:]}))
