"""The accuracy a model gets without learning anything, and the warning when it does no better."""

from collections.abc import Sequence

import numpy as np


def chance_accuracy(classes: Sequence[int], foreground_classes: int) -> float:
    """The better of guessing uniformly among the foreground classes and always answering
    the most common class of the held-out boxes."""
    uniform = 1.0 / max(foreground_classes, 1)
    if not len(classes):
        return uniform
    return max(uniform, float(np.bincount(np.asarray(classes)).max() / len(classes)))


def chance_warning(accuracy: float, chance: float) -> str | None:
    """One WARNING line when held-out accuracy is at or below chance, else None."""
    if accuracy > chance:
        return None
    return (
        f"WARNING: held-out box accuracy {accuracy:.4f} is at or below chance ({chance:.4f}, "
        "uniform guess or majority class): this model has not learned to classify regions; "
        "train longer, on more images, or check the dataset's boxes and categories"
    )
