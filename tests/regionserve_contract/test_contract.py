"""The contract both sides import: numpy only, and the arithmetic and names they share."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from regionserve_contract.files import SAMPLE_KEY, decomposed_variant, sample_key, samples_path
from regionserve_contract.preprocessing import Preprocessing

ROOT = Path(__file__).parents[2]


def test_the_contract_imports_only_numpy() -> None:
    code = (
        "import sys, regionserve_contract.files, regionserve_contract.metadata, "
        "regionserve_contract.preprocessing; "
        "heavy = {'tensorflow', 'keras', 'onnx', 'onnxruntime', 'fastapi', 'starlette', 'PIL'}; "
        "bad = sorted({m.split('.')[0] for m in sys.modules} & heavy); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_preprocessing_is_float32_arithmetic() -> None:
    prep = Preprocessing(1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    pixels = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3))
    mean, std = np.asarray(prep.mean, np.float32), np.asarray(prep.std, np.float32)
    want = (pixels.astype(np.float32) * np.float32(prep.scale) - mean) / std
    got = prep.apply(pixels)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want.astype(np.float32))


def test_preprocessing_round_trips_through_the_metadata() -> None:
    prep = Preprocessing(2.0, (1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
    assert Preprocessing.from_metadata(prep.as_metadata()) == prep
    with pytest.raises(ValueError, match="3 means and 3 non-zero stds"):
        Preprocessing.from_metadata({"std": [1.0, 0.0, 1.0]})


def test_the_files_of_one_export_share_their_samples() -> None:
    model = Path("models/mine.onnx")
    assert decomposed_variant(model) == Path("models/mine.decomposed.onnx")
    assert samples_path(model) == samples_path(decomposed_variant(model))
    assert samples_path(model) == Path("models/mine.samples.npz")
    found = SAMPLE_KEY.fullmatch(sample_key(3, "output", "roi_scores"))
    assert found is not None and found.groups() == ("3", "output", "roi_scores")
