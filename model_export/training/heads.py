"""What one training step computes: the outputs of the heads that have weights to train.

With `--train-only`, a head whose every layer is frozen has no gradient to give: its output is
left out of the step, so training a proposal head alone does not run the box head, the
superpixel head or NMS at all.
"""

import keras

from model_export.layers import RegionProposals

OBJECTNESS, DELTAS = "rpn_objectness", "rpn_deltas"  # the proposal head's raw outputs


def proposal_layer(model: keras.Model) -> RegionProposals | None:
    found = [layer for layer in model.layers if isinstance(layer, RegionProposals)]
    return found[0] if found else None


def trained_heads(model: keras.Model) -> keras.Model:
    """A model of the same inputs whose outputs are those of `model`'s heads with trainable
    weights: `roi_scores`, `superpixel_scores`, and for a proposal head its raw per-anchor
    objectness logits and box deltas (what the loss reads, before decoding and NMS)."""
    heads = {name: model.output[name] for name in ("roi_scores", "superpixel_scores")}
    layer = proposal_layer(model)
    if layer is not None:
        objectness, deltas = layer.input[:2]
        heads |= {OBJECTNESS: objectness, DELTAS: deltas}
    trained = {
        name: tensor
        for name, tensor in heads.items()
        if keras.Model(model.inputs, tensor).trainable_weights
    }
    if not trained:
        raise ValueError("no head of the model has weights to train")
    return keras.Model(model.inputs, trained, name=f"{model.name}_trained_heads")
