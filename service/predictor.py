"""One shared onnxruntime session; knows numpy arrays, not HTTP."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from service.model_info import ModelInfo, ModelLoadError
from service.settings import Settings


@dataclass(frozen=True)
class PreparedImage:
    """One image ready for the model: stride-aligned sizes are handled when batching."""

    pixels: np.ndarray  # (H, W, 3) uint8, at most max_image_side on its long side
    rois: np.ndarray  # (R, 4) float32 [x1, y1, x2, y2] in pixels, inclusive ends
    superpixels: np.ndarray | None  # (ceil(H / stride), ceil(W / stride)) int32 ids, or None


@dataclass(frozen=True)
class Scores:
    rois: np.ndarray  # (R, K)
    superpixels: np.ndarray  # (S, K)


class Predictor:
    def __init__(
        self, path: Path, providers: list[str], intra_op_threads: int = 0, spinning: bool = True
    ) -> None:
        if not path.is_file():
            raise ModelLoadError(f"{path}: model file not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        # Spinning workers wait hot for the next operator: lower latency per run, but they
        # take CPU that decoding and HTTP could use while requests overlap (a setting).
        options.add_session_config_entry("session.intra_op.allow_spinning", str(int(spinning)))
        # And they stop once the last concurrent run returns, rather than spin on for
        # milliseconds through the next request's HTTP and decoding on the same cores.
        options.add_session_config_entry("session.force_spinning_stop", "1")
        available = set(ort.get_available_providers())
        chosen = [p for p in providers if p in available] or ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(path), options, providers=chosen)
        except Exception as error:  # onnxruntime raises several unrelated types
            raise ModelLoadError(f"{path}: onnxruntime cannot load it: {error}") from error
        meta = self.session.get_modelmeta().custom_metadata_map
        self.info = ModelInfo.from_metadata(str(path), meta)
        self.provider = self.session.get_providers()[0]

    @classmethod
    def from_settings(cls, settings: Settings) -> "Predictor":
        return cls(
            settings.model_path,
            settings.providers,
            settings.intra_op_threads,
            settings.ort_spinning,
        )

    def run(self, batch: list[PreparedImage]) -> list[Scores]:
        """Pad the images to one size, run once, and split the scores per image."""
        stride, pad = self.info.stride, self.info.pad_value
        height = _round_up(max(p.pixels.shape[0] for p in batch), stride)
        width = _round_up(max(p.pixels.shape[1] for p in batch), stride)
        images = np.full((len(batch), height, width, 3), pad, np.uint8)
        grids = np.full((len(batch), height // stride, width // stride), -1, np.int32)
        for i, item in enumerate(batch):
            h, w = item.pixels.shape[:2]
            images[i, :h, :w] = item.pixels
            if item.superpixels is not None:
                gh, gw = item.superpixels.shape
                grids[i, :gh, :gw] = item.superpixels
        counts = [len(p.rois) for p in batch]
        index = np.repeat(np.arange(len(batch), dtype=np.float32), counts)[:, None]
        rois = np.concatenate([index, np.concatenate([p.rois for p in batch])], axis=1)
        feed = {"image": images, "rois": rois.astype(np.float32), "superpixels": grids}
        roi_scores, sp_scores = self.session.run(["roi_scores", "superpixel_scores"], feed)
        splits = np.split(roi_scores, np.cumsum(counts)[:-1])
        return [
            Scores(splits[i], sp_scores[i, : _superpixel_count(p)]) for i, p in enumerate(batch)
        ]


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _superpixel_count(item: PreparedImage) -> int:
    return 0 if item.superpixels is None else int(item.superpixels.max(initial=-1)) + 1
