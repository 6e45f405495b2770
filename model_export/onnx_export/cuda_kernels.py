"""Which ops of a float16 graph onnxruntime's CUDA provider runs in float16: a node computing on
a float16 tensor that has no float16 CUDA kernel would fall back to the CPU, with copies around
it (or fail to load). From onnxruntime's docs/OperatorKernels.md (CUDAExecutionProvider, ops
whose type list holds tensor(float16)); absent there, among others: Range, RoiAlign,
NonMaxSuppression, GridSample, MaxRoiPool."""

import onnx

FLOAT16 = onnx.TensorProto.FLOAT16
FLOAT16_CUDA_OPS = frozenset(
    {
        *("Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization"),
        *("Cast", "Ceil", "Clip", "Compress", "Concat", "ConstantOfShape", "Conv"),
        *("ConvTranspose", "CumSum", "DepthToSpace", "Div", "Dropout", "Einsum", "Elu"),
        *("Equal", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "GatherElements"),
        *("GatherND", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Greater"),
        *("GreaterOrEqual", "HardSigmoid", "HardSwish", "Identity", "If", "InstanceNormalization"),
        *("IsInf", "IsNaN", "LRN", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual"),
        *("Log", "LogSoftmax", "Loop", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mod", "Mul"),
        *("Neg", "NonZero", "Not", "Or", "PRelu", "Pad", "Pow", "Reciprocal", "ReduceL1"),
        *("ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean"),
        *("ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape"),
        *("Resize", "Round", "ScatterElements", "ScatterND", "Selu", "Shape", "Sigmoid", "Sign"),
        *("Sin", "Size", "Slice", "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split"),
        *("Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "ThresholdedRelu", "Tile", "TopK"),
        *("Transpose", "Trilu", "Unsqueeze", "Where"),
    }
)


def _types(graph: onnx.GraphProto, types: dict[str, int]) -> None:
    for value in [*graph.input, *graph.value_info, *graph.output]:
        types[value.name] = value.type.tensor_type.elem_type
    types.update({t.name: t.data_type for t in graph.initializer})


def _float16_nodes(graph: onnx.GraphProto, types: dict[str, int]) -> list[onnx.NodeProto]:
    """Nodes (in branches too) with a float16 input or output; branches see outer values."""
    _types(graph, types)
    found = []
    for node in graph.node:
        if any(types.get(name) == FLOAT16 for name in [*node.input, *node.output]):
            found.append(node)
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                found += _float16_nodes(attribute.g, dict(types))
    return found


def float16_ops_off_cuda(proto: onnx.ModelProto) -> list[str]:
    """`op (node)` of each node computing in float16 that CUDA has no float16 kernel for."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    nodes = _float16_nodes(inferred.graph, {})
    return [f"{n.op_type} ({n.name})" for n in nodes if n.op_type not in FLOAT16_CUDA_OPS]
