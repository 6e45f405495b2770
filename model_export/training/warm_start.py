"""Warm start: a new model takes the weights of a trained one wherever their layers agree."""

import keras


def copy_matching_weights(model: keras.Model, source: keras.Model) -> list[str]:
    """Copy into each layer of `model` the weights of the layer of `source` with its name and
    weight shapes; return the names of the layers with weights that stay freshly initialised."""
    trained = {layer.name: layer for layer in source._flatten_layers()}
    fresh = []
    for layer in model._flatten_layers():
        if not layer.weights or layer is model:
            continue
        twin = trained.get(layer.name)
        if twin is not None and [w.shape for w in twin.weights] == [w.shape for w in layer.weights]:
            layer.set_weights(twin.get_weights())
        else:
            fresh.append(layer.name)
    return fresh
