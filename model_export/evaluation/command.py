"""`python -m model_export evaluate`: the served model on independent evaluation scenes
(model_export/evaluation/scenes.py), through the service's own preparation and regions code.
Prints markdown tables: accuracy by box kind, by IoU with the tight box, by rendering;
superpixel accuracy; proposals recall on plain and cluttered scenes."""

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from model_export.dataset.digits import TEST_FRACTION, DigitPool, split_digits
from model_export.evaluation.measure import (
    BOX_KINDS,
    BoxResult,
    ProposalCounts,
    ServedModel,
    box_results,
    proposals_found,
    superpixel_results,
)
from model_export.evaluation.scenes import RENDERINGS, draw_scene, proposals_scene
from model_export.progress import Progress
from service.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", type=Path, default=Path("models/region_classifier.onnx"))
    parser.add_argument("--scenes", type=int, default=60, help="box scenes (half cluttered)")
    parser.add_argument("--superpixel-scenes", type=int, default=20)
    parser.add_argument("--proposal-scenes", type=int, default=30, help="of each kind")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--max-proposals", type=int, help="default: the service's default")
    parser.add_argument("--card", type=Path, help="write the tables into this model card")


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


CARD_SECTION = "## Independent evaluation"


def superpixel_table(
    model: ServedModel, rng: np.random.Generator, pool: DigitPool, scenes: int
) -> str:
    pixels: dict[bool, list[bool]] = defaultdict(list)
    for n in range(scenes):
        for result in superpixel_results(model, draw_scene(rng, pool, cluttered=n % 2 == 1)):
            pixels[result.on_digit].append(result.right)
    every = pixels[True] + pixels[False]
    return "\n".join(
        [
            "| superpixels | accuracy |",
            "| --- | --- |",
            f"| on digits (ink covers over half) | {share(sum(pixels[True]), len(pixels[True]))} |",
            f"| all | {share(sum(every), len(every))} |",
        ]
    )


def proposals_table(
    model: ServedModel, rng: np.random.Generator, pool: DigitPool, scenes: int
) -> str:
    lines = [
        "| proposals: scenes | recall (IoU >= 0.5 with the tight box, right label) "
        "| precision (regions of the answer on a digit) | regions per scene |",
        "| --- | --- | --- | --- |",
    ]
    for cluttered in (False, True):
        counts = sum(
            (proposals_found(model, proposals_scene(rng, pool, cluttered)) for _ in range(scenes)),
            ProposalCounts(0, 0, 0, 0, 0),
        )
        lines.append(
            f"| {'cluttered' if cluttered else 'plain'} | {share(counts.found, counts.digits)} "
            f"| {share(counts.on_digit, counts.regions)} | {counts.regions / scenes:.1f} |"
        )
    return "\n".join(lines)


def card_section(args: argparse.Namespace, proposer: str, tables: list[str]) -> str:
    how = (
        f"`python -m model_export evaluate` (seed {args.seed}) draws scenes with its own generator "
        "(`model_export/evaluation/scenes.py`, no code shared with the training scenes): held-out "
        "UCI digits (never in a training scene) upscaled by bilinear, bicubic, lanczos or nearest "
        "interpolation, or with bold, thin or blurred strokes, in contrasting ink over flat "
        "colours and gradients (plain) or blurred noise with outlined shapes (cluttered). It runs "
        "the ONNX file through the service's own code on the CPU. Boxes: the tight box of the ink, "
        "the digit's square cell, and boxes at an exact IoU with the tight box, loose (the tight "
        f"box inside a larger one) and shifted (moved); {args.scenes} scenes, half cluttered. "
        f"Superpixels as superpixels mode serves them ({args.superpixel_scenes} scenes), each "
        "labelled by the digit whose ink covers over half of it. Proposals: a digit is found when "
        "a region of the answer has IoU >= 0.5 with its tight box and its label "
        f"({args.proposal_scenes} scenes of each kind, 4 digits of 40 to 90 px, {proposer}); "
        "precision counts the regions of the answer at IoU >= 0.5 with some digit."
    )
    return "\n\n".join([CARD_SECTION, how, *tables]) + "\n"


def write_section(card: Path, section: str) -> None:
    """Replace the card's evaluation section (to the end of the file), or append it."""
    text = card.read_text()
    kept = text.split(CARD_SECTION, 1)[0].rstrip("\n")
    card.write_text(f"{kept}\n\n{section}")


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
    tables = [box_tables(results)]
    print(tables[-1], end="\n\n", flush=True)
    tables.append(superpixel_table(model, rng, pool, args.superpixel_scenes))
    print(tables[-1], end="\n\n", flush=True)
    tables.append(proposals_table(model, rng, pool, args.proposal_scenes))
    print(tables[-1], flush=True)
    if args.card:
        write_section(args.card, card_section(args, proposer(model), tables))


def proposer(model: ServedModel) -> str:
    """Where proposals mode's boxes come from, in words."""
    head = model.info.proposal_head
    if head is not None:
        return "the model's own proposal head"
    return f"selective search, {model.settings.max_proposals} proposals kept"
