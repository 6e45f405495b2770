"""What any protocol hands the pipeline for one image: the request, its mode, its defaults."""

from dataclasses import dataclass, field
from typing import Any

from service.errors import InvalidValue

MODES = ("boxes", "proposals", "superpixels")  # the API's; a model offers those its heads allow
DEFAULT_TOP_K = 3


@dataclass(frozen=True)
class RegionRequest:
    image: bytes
    boxes: Any | None  # JSON-decoded, validated once the image size is known
    top_k: int
    mode: str | None
    extras: dict[str, Any] = field(default_factory=dict)  # raw .npy by input name


def choose_mode(request: RegionRequest, top_k_limit: int, modes: tuple[str, ...]) -> str:
    """The request's mode, among those the model's heads offer; by default boxes when
    boxes are given, else proposals (superpixels for a model without a RoI head)."""
    unboxed = "proposals" if "proposals" in modes else modes[-1]
    mode = request.mode or ("boxes" if request.boxes is not None else unboxed)
    if mode not in modes:
        raise InvalidValue(f"mode must be one of this model's modes {list(modes)}, got {mode!r}")
    if mode == "boxes" and request.boxes is None:
        raise InvalidValue("mode 'boxes' needs boxes")
    if mode != "boxes" and request.boxes is not None:
        raise InvalidValue(f"boxes are only used in mode 'boxes', not {mode!r}")
    if not 1 <= request.top_k <= top_k_limit:
        raise InvalidValue(f"top_k must be between 1 and {top_k_limit}, got {request.top_k}")
    return mode
