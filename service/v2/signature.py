"""What a V2 model takes and gives: tensor names, datatypes and shapes (-1: any size)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.inference.model_inputs import NodeArg, fixed_dims
from service.v2.datatypes import from_onnx

ANY = -1


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]
    optional: bool = False

    @classmethod
    def of(cls, node: NodeArg) -> "TensorSpec":
        """Symbolic or unknown ONNX dimensions are any size."""
        dims = tuple(ANY if d is None else d for d in fixed_dims(node))
        return cls(node.name, from_onnx(node.type), dims)

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    def accepts(self, shape: Sequence[int]) -> bool:
        return len(shape) == len(self.shape) and all(
            want in (ANY, got) for want, got in zip(self.shape, shape, strict=True)
        )


def specs_of(nodes: Sequence[NodeArg]) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec.of(node) for node in nodes)
