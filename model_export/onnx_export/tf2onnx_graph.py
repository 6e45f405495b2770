"""The `Graph` builder's interface over tf2onnx's graph, so our lowerings run inside handlers."""

from typing import Any

import numpy as np
from tf2onnx import utils
from tf2onnx.graph import Graph as Tf2onnxContext

from model_export.onnx_export.graph import Graph


class Tf2onnxGraph(Graph):
    """Adds nodes and constants to the tf2onnx graph being converted (`ctx` of a handler)."""

    def __init__(self, ctx: Tf2onnxContext) -> None:
        super().__init__()
        self.ctx = ctx

    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        node = self.ctx.make_const(utils.make_name(hint), np.asarray(value, dtype=dtype))
        return str(node.output[0])

    def op(self, op_type: str, *inputs: str, name: str | None = None, **attrs: Any) -> str:
        outputs = None if name is None else [name]
        node = self.ctx.make_node(op_type, list(inputs), attr=attrs, outputs=outputs)
        return str(node.output[0])
