"""IO binding (onnxruntime's io_binding, used on CUDA) gives session.run's outputs bit for bit:
checked here on the CPU provider through the same code path, on the shipped model's files."""

import numpy as np
import onnxruntime as ort
import pytest

from regionserve_contract.files import decomposed_variant
from service.inference.predictor import Predictor
from service.inference.self_test import load_samples
from service.inference.sessions import CPU, run_bound
from tests.service.conftest import SHIPPED_MODEL


@pytest.mark.parametrize("path", [SHIPPED_MODEL, decomposed_variant(SHIPPED_MODEL)])
def test_bound_runs_equal_plain_runs_bit_for_bit(path: object) -> None:
    session = ort.InferenceSession(str(path), providers=[CPU])
    names = [o.name for o in session.get_outputs()]
    samples = load_samples(SHIPPED_MODEL, session.get_inputs(), names, False)
    assert samples
    for feed, _ in samples:
        bound_outputs = run_bound(session, names, feed)
        for plain, bound in zip(session.run(names, feed), bound_outputs, strict=True):
            assert bound.dtype == plain.dtype and bound.shape == plain.shape
            np.testing.assert_array_equal(bound, plain)
        assert [a.shape for a in run_bound(session, names[:1], feed)] == [
            session.run(names[:1], feed)[0].shape
        ]


def test_the_predictor_binds_on_cuda_only_unless_asked() -> None:
    plain = Predictor(SHIPPED_MODEL, [CPU])
    assert plain.io_binding is False and plain.precision == "fp32"
    bound = Predictor(SHIPPED_MODEL, [CPU], io_binding=True)
    assert bound.io_binding is True
    assert plain.samples
    for feed, _ in plain.samples:
        want, got = plain.run_feed(feed), bound.run_feed(feed)
        assert list(got) == list(want)
        for name in want:
            np.testing.assert_array_equal(got[name], want[name])
