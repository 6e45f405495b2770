"""Export time and file sizes for the test zoo, beside the shipped model's (the baseline)."""

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.report import table, write_section

SHIPPED = Path("models/region_classifier.keras")


def _export_seconds(model_path: Path, out: Path, classes: Path | None, flags: list[str]) -> float:
    from model_export.onnx_export import command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    argv = ["--model", str(model_path), "--out", str(out), *flags]
    args = parser.parse_args(argv + (["--classes", str(classes)] if classes else []))
    start = time.perf_counter()
    command.export_command(args)
    return time.perf_counter() - start


def _kib(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.0f}" if path.exists() else "-"


def main() -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from tests.model_export.zoo.models import CLASSES, ZOO, build

    folder = Path(tempfile.mkdtemp(prefix="export_zoo_"))
    classes = folder / "classes.txt"
    classes.write_text("\n".join(CLASSES) + "\n")
    baseline = _export_seconds(SHIPPED, folder / "region_classifier.onnx", None, [])
    timings = {"region_classifier (shipped)": (baseline, folder / "region_classifier")}
    for name, entry in ZOO.items():
        build(name).save(folder / f"{name}.keras")
        out = folder / f"{name}.onnx"
        seconds = _export_seconds(folder / f"{name}.keras", out, classes, entry.flags)
        timings[name] = (seconds, folder / name)
    rows = [
        [
            name,
            f"{seconds:.1f}",
            f"{seconds / baseline:.2f}x",
            _kib(stem.with_suffix(".onnx")),
            _kib(stem.with_name(stem.name + ".decomposed.onnx")),
            _kib(stem.with_name(stem.name + ".samples.npz")),
        ]
        for name, (seconds, stem) in timings.items()
    ]
    header = ["model", "export s", "vs shipped", ".onnx KiB", ".decomposed.onnx KiB", "samples KiB"]
    note = (
        "`python -m model_export export` in one process (TensorFlow already imported): trace, "
        "tf2onnx with both RoI lowerings, gates (checker, domains, parity at batch 1 and 2), "
        "samples; untrained zoo models of tests/model_export/zoo."
    )
    write_section("export", "Export of the model zoo (CPU)", f"{note}\n\n{table(header, rows)}\n")


if __name__ == "__main__":
    main()
