"""The ONNX file's metadata_props: the contract's version, its keys and their allowed values
(README: "What the ONNX file carries"). Values are strings; lists and objects JSON."""

import json
from collections.abc import Mapping


class Key:
    CONTRACT = "regionserve_contract"
    NAME = "name"
    VERSION = "version"
    CLASSES = "classes"  # JSON list, index = class id
    BACKGROUND_CLASS = "background_class"  # -1: none
    INPUTS = "inputs"  # JSON {role: input name}, roles image, rois, superpixels
    EXTRA_INPUTS = "extra_inputs"  # JSON list of input names
    INPUT_SHAPES = "input_shapes"  # JSON {input name: [size, or null where free]}
    OUTPUTS = "outputs"  # JSON {head: output name}, heads rois, superpixels
    STRIDE = "stride"
    IMAGE_DTYPE = "image_dtype"
    IMAGE_PREPROCESSING = "image_preprocessing"  # JSON, {} for uint8 images
    PAD_VALUE = "pad_value"
    MAX_IMAGE_SIDE = "max_image_side"
    ROIS_FORMAT = "rois_format"  # with a RoI head
    SUPERPIXEL_AREA = "superpixel_area"  # with a superpixel head
    SUPERPIXEL_COMPACTNESS = "superpixel_compactness"
    ROI_LOWERING = "roi_lowering"  # with a RoI head: which of the export's files this is
    # with a RegionProposals layer: JSON {"proposals": (R, 5) output, "objectness": (R,) output,
    # "scores": (R, K) class scores of those proposals}; proposals mode then uses them
    PROPOSAL_HEAD = "proposal_head"
    PRECISION = "precision"  # fp32 (absent: fp32) or fp16: the floats the graph computes in


CONTRACT_VERSION = "1"
IMAGE_DTYPES = ("uint8", "float32")
INDEXED, BATCHED = "indexed", "batched"  # rois (R, 5) [batch_index, x1, y1, x2, y2] | (B, N, 4)
ROIS_FORMATS = (INDEXED, BATCHED)
FP32, FP16 = "fp32", "fp16"  # values of Key.PRECISION
PRECISIONS = (FP32, FP16)
PROPOSAL_HEAD_PARTS = ("proposals", "objectness", "scores")  # the keys of proposal_head


def as_props(values: Mapping[str, object]) -> dict[str, str]:
    """metadata_props as ONNX stores them: strings kept, everything else as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
