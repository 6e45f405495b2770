import numpy as np

from model_export.model import ModelSpec, build_region_classifier
from model_export.training.warm_start import copy_matching_weights

CLASSES = ("background", "a", "b")


def test_layers_of_the_same_name_and_shape_take_the_trained_weights() -> None:
    trained = build_region_classifier(ModelSpec(CLASSES, widths=(4, 8, 8), embedding=8, context=()))
    model = build_region_classifier(ModelSpec(CLASSES, widths=(4, 8, 8), embedding=8, context=(2,)))
    fresh = copy_matching_weights(model, trained)
    assert fresh == ["context2", "context2_out"]
    for layer in trained.layers:
        for mine, theirs in zip(model.get_layer(layer.name).weights, layer.weights, strict=True):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_a_layer_whose_shapes_differ_stays_fresh() -> None:
    trained = build_region_classifier(ModelSpec(CLASSES, widths=(4, 8, 8), embedding=8, context=()))
    wider = build_region_classifier(ModelSpec(CLASSES, widths=(4, 8, 8), embedding=16, context=()))
    before = wider.get_layer("roi_embed").get_weights()[0].copy()
    assert copy_matching_weights(wider, trained) == ["roi_embed", "sp_embed", "classifier"]
    np.testing.assert_array_equal(wider.get_layer("roi_embed").get_weights()[0], before)
    np.testing.assert_array_equal(
        wider.get_layer("conv1").get_weights()[0], trained.get_layer("conv1").get_weights()[0]
    )
