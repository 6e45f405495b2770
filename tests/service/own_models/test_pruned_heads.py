"""Users' models split per head: one with both heads and an extra input that both read, and
one with a single head, which keeps its whole graph alone."""

from service.inference.predictor import Predictor
from service.inference.pruning import head_graphs
from service.inference.self_test import replay_samples
from tests.service.inference.test_pruning import CPU, assert_heads_equal_the_whole_graph
from tests.service.own_models.conftest import ExportZoo


def test_a_zoo_model_with_both_heads_and_an_extra_input(export_zoo: ExportZoo) -> None:
    """Both heads read the extra input (the masked convolution's mask) through the backbone."""
    model = export_zoo("masked_conv_two_heads")
    assert_heads_equal_the_whole_graph(
        model.onnx,
        {
            "box_scores": ["image", "kernel_mask", "rois"],
            "region_scores": ["image", "kernel_mask", "segments"],
        },
    )
    predictor = Predictor(model.onnx, CPU)
    assert sorted(map(sorted, predictor.workers[0].pruned)) == [["rois"], ["superpixels"]]
    assert replay_samples(predictor).startswith("passed (3 recorded samples, largest ")


def test_a_model_with_one_head_has_no_pruned_graph(export_zoo: ExportZoo) -> None:
    model = export_zoo("superpixel_mean")
    assert head_graphs(model.onnx, {"superpixels": "scores"}) == {}
    assert Predictor(model.onnx, CPU).workers[0].pruned == {}
