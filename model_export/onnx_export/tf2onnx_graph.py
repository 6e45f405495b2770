"""The `Graph` builder's interface over tf2onnx's graph, so our lowerings run inside handlers."""

from collections.abc import Callable
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

    def op_outputs(self, op_type: str, *inputs: str, count: int, **attrs: Any) -> list[str]:
        node = self.ctx.make_node(op_type, list(inputs), attr=attrs, output_count=count)
        return [str(name) for name in node.output]

    def if_else(
        self,
        condition: str,
        then: Callable[[Graph], str],
        otherwise: Callable[[Graph], str],
        dtype: int,
        rank: int,
    ) -> str:
        branches = {}
        for attribute, build in (("then_branch", then), ("else_branch", otherwise)):
            body = self.ctx.create_new_graph_with_same_config()
            body.parent_graph = self.ctx
            body.add_graph_output(build(Tf2onnxGraph(body)), dtype, [-1] * rank)
            branches[attribute] = body
        node = self.ctx.make_node("If", [condition], branches=branches, dtypes=[dtype])
        return str(node.output[0])
