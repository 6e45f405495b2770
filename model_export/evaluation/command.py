"""`python -m model_export evaluate`: the served model on independent evaluation scenes
(model_export/evaluation/scenes.py), through the service's own preparation and regions code.
Prints markdown tables: accuracy by box kind, by IoU with the tight box, by rendering;
superpixel accuracy; proposals recall on plain and cluttered scenes."""

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from model_export.dataset.digits import TEST_FRACTION, split_digits
from model_export.evaluation.measure import (
    BOX_KINDS,
    BoxResult,
    ServedModel,
    box_results,
    proposals_found,
    superpixel_results,
)
from model_export.evaluation.scenes import RENDERINGS, draw_scene
from model_export.progress import Progress
from service.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", type=Path, default=Path("models/region_classifier.onnx"))
    parser.add_argument("--scenes", type=int, default=60, help="box scenes (half cluttered)")
    parser.add_argument("--superpixel-scenes", type=int, default=20)
    parser.add_argument("--proposal-scenes", type=int, default=30, help="of each kind")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--max-proposals", type=int, help="default: the service's default")


def share(hits: int, total: int) -> str:
    return f"{hits / total:.4f} ({hits}/{total})" if total else "-"


def correct(results: list[BoxResult]) -> str:
    return share(sum(r.right for r in results), len(results))


def box_tables(results: list[BoxResult]) -> str:
    lines = [
        "| box | boxes | mean IoU with the tight box | accuracy |",
        "| --- | --- | --- | --- |",
    ]
    for kind in BOX_KINDS:
        mine = [r for r in results if r.kind == kind]
        mean_iou = np.mean([r.iou for r in mine]) if mine else 0.0
        lines.append(f"| {kind} | {len(mine)} | {mean_iou:.3f} | {correct(mine)} |")
    lines += [
        "",
        "| IoU with the tight box | accuracy (loose, shifted and cells at or above it) |",
        "| --- | --- |",
    ]
    for level in (1.0, 0.8, 0.6, 0.5):
        mine = [r for r in results if r.iou >= level - 1e-6]
        lines.append(f"| >= {level} | {share(sum(r.right for r in mine), len(mine))} |")
    lines += ["", "| rendering | tight | every box with IoU >= 0.5 |", "| --- | --- | --- |"]
    for rendering in RENDERINGS:
        tight = [r for r in results if r.rendering == rendering and r.kind == "tight"]
        loose = [r for r in results if r.rendering == rendering and r.iou >= 0.5 - 1e-6]
        lines.append(
            f"| {rendering} | {share(sum(r.right for r in tight), len(tight))} "
            f"| {share(sum(r.right for r in loose), len(loose))} |"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    proposals = {"max_proposals": args.max_proposals} if args.max_proposals else {}
    model = ServedModel(Settings(model_path=args.onnx, **proposals))
    _, pool = split_digits(TEST_FRACTION, seed=0)  # digits no training scene drew
    rng = np.random.default_rng(args.seed)
    results: list[BoxResult] = []
    progress = Progress("evaluate boxes", args.scenes)
    for n in range(args.scenes):
        results += box_results(model, rng, draw_scene(rng, pool, cluttered=n % 2 == 1))
        progress.step()
    print(box_tables(results), end="\n\n")
    pixels: dict[bool, list[bool]] = defaultdict(list)
    for n in range(args.superpixel_scenes):
        for result in superpixel_results(model, draw_scene(rng, pool, cluttered=n % 2 == 1)):
            pixels[result.on_digit].append(result.right)
    every = pixels[True] + pixels[False]
    print("| superpixels | accuracy |\n| --- | --- |")
    print(f"| on digits (ink covers over half) | {share(sum(pixels[True]), len(pixels[True]))} |")
    print(f"| all | {share(sum(every), len(every))} |", end="\n\n")
    print("| proposals: scenes | recall (IoU >= 0.5 with the tight box, right label) |")
    print("| --- | --- |")
    for cluttered in (False, True):
        found = total = 0
        for _ in range(args.proposal_scenes):
            scene = draw_scene(rng, pool, cluttered, digits=4, sides=(40, 90), size=(300, 512))
            hits, count = proposals_found(model, scene)
            found, total = found + hits, total + count
        print(f"| {'cluttered' if cluttered else 'plain'} | {share(found, total)} |")
