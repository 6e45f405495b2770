"""How pixels become a float32 image: (pixels * scale - mean) / std, in float32, the same
arithmetic where the export makes its samples and where the service feeds requests."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Preprocessing:
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """In float32, in one array the size of the result (a batch of large images)."""
        out = np.multiply(pixels, np.float32(self.scale), dtype=np.float32)
        out -= np.asarray(self.mean, np.float32)
        out /= np.asarray(self.std, np.float32)
        return out

    def as_metadata(self) -> dict[str, Any]:
        return {"scale": self.scale, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_metadata(cls, prep: Mapping[str, Any]) -> "Preprocessing":
        """ValueError for anything but 3 means and 3 non-zero stds."""
        mean = tuple(float(v) for v in prep.get("mean", (0.0, 0.0, 0.0)))
        std = tuple(float(v) for v in prep.get("std", (1.0, 1.0, 1.0)))
        if len(mean) != 3 or len(std) != 3 or 0.0 in std:
            raise ValueError("image_preprocessing needs 3 means and 3 non-zero stds")
        return cls(
            float(prep.get("scale", 1.0)), (mean[0], mean[1], mean[2]), (std[0], std[1], std[2])
        )
