"""Convolution with a spatial mask on its kernel."""

from typing import Any

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="regionserve")
class MaskedConv2D(keras.layers.Conv2D):
    """A Conv2D whose `(kh, kw, C_in, filters)` kernel is multiplied by a `(kh, kw)` mask.

    Args:
        filters, kernel_size, strides, padding, activation, use_bias, ...: as `Conv2D`.
        mask: a `(kh, kw)` nested list or array stored in the config; when None,
            the layer takes the mask as a second input tensor.

    Input shape:
        `(B, H, W, C_in)`, or the list `[x, mask]` with mask `(kh, kw)` when `mask=None`.

    Output shape:
        As `Conv2D`: `(B, H', W', filters)`.
    """

    def __init__(self, filters: int, kernel_size: Any, mask: Any = None, **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, **kwargs)
        if self.data_format != "channels_last":
            raise ValueError("MaskedConv2D supports data_format='channels_last' only")
        self.mask = None if mask is None else np.asarray(mask, dtype="float32")
        if self.mask is not None and self.mask.shape != self.kernel_size:
            raise ValueError(f"mask shape {self.mask.shape} != kernel_size {self.kernel_size}")
        if self.mask is None:
            self.input_spec = [keras.InputSpec(min_ndim=4), keras.InputSpec(ndim=2)]

    def build(self, input_shape: Any) -> None:
        super().build(self._image_shape(input_shape))
        if self.mask is None:
            self.input_spec = [self.input_spec, keras.InputSpec(ndim=2)]

    def call(self, inputs: Any) -> tf.Tensor:
        x, mask = (inputs, self.mask) if self.mask is not None else inputs
        kernel = self.kernel * tf.cast(mask, self.kernel.dtype)[:, :, None, None]
        outputs = self.convolution_op(x, kernel)
        if self.use_bias:
            outputs = outputs + self.bias
        return outputs if self.activation is None else self.activation(outputs)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return super().compute_output_shape(self._image_shape(input_shape))

    @staticmethod
    def _image_shape(input_shape: Any) -> Any:
        """The shape of x, whether given alone or beside the mask's."""
        return input_shape[0] if isinstance(input_shape[0], list | tuple) else input_shape

    def get_config(self) -> dict[str, Any]:
        mask = None if self.mask is None else self.mask.tolist()
        return {**super().get_config(), "mask": mask}
