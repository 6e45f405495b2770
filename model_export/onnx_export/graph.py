"""A thin builder over onnx.helper: fresh tensor names, constants and nodes."""

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 18  # ScatterElements reduction="max" needs 18; MaxRoiPool fails to load at 22+
IR_VERSION = 9  # what onnxruntime 1.31 loads with opset 18


class Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._numbers: Iterator[int] = itertools.count(1)  # shared with If branches

    def _name(self, hint: str) -> str:
        return f"{hint}_{next(self._numbers)}"

    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, name: str | None = None, **attrs: Any) -> str:
        """Add one node and return its single output name."""
        output = name or self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], **attrs))
        return output

    def op_outputs(self, op_type: str, *inputs: str, count: int, **attrs: Any) -> list[str]:
        """Add one node with `count` outputs and return their names."""
        outputs = [self._name(op_type.lower()) for _ in range(count)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, **attrs))
        return outputs

    def i64(self, *values: int) -> str:
        return self.const(np.array(values, np.int64), hint="i64")

    def cast(self, x: str, to: int) -> str:
        return self.op("Cast", x, to=to)

    def slice(self, x: str, start: int, end: int, axis: int, step: int = 1) -> str:
        return self.op("Slice", x, self.i64(start), self.i64(end), self.i64(axis), self.i64(step))

    def dim(self, shape: str, axis: int) -> str:
        """A scalar int64 from a Shape output."""
        return self.op("Squeeze", self.slice(shape, axis, axis + 1, 0), self.i64(0))

    def unsqueeze(self, x: str, *axes: int) -> str:
        return self.op("Unsqueeze", x, self.i64(*axes))

    def if_else(
        self,
        condition: str,
        then: Callable[["Graph"], str],
        otherwise: Callable[["Graph"], str],
        dtype: int,
        rank: int,
    ) -> str:
        """An If node: each branch is built by its function (which may read this graph's
        values) and gives one tensor of `dtype` and `rank`."""
        branches = {}
        for attribute, build in (("then_branch", then), ("else_branch", otherwise)):
            branch = Graph()
            branch._numbers = self._numbers
            output = build(branch)
            branches[attribute] = helper.make_graph(
                branch.nodes,
                self._name(attribute),
                [],
                [helper.make_tensor_value_info(output, dtype, [None] * rank)],
                branch.initializers,
            )
        return self.op("If", condition, **branches)


FLOAT, DOUBLE, INT64 = onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.INT64
