"""COCO run-length encoding of many masks at once, byte for byte pycocotools' `rleToString`.

A mask's counts alternate zeros and ones down its columns, starting with zeros. Each count
from the fourth on is stored as its difference from the count two before; each value is then
written 5 bits at a time, low bits first, as characters from 48 ('0'), with 0x20 set on every
character but the last, which ends when the rest is 0 (or -1 for a negative value whose last
chunk carries the sign bit 0x10).
"""

import numpy as np


def id_counts(
    starts: np.ndarray, ends: np.ndarray, bounds: np.ndarray, pixels: int
) -> tuple[np.ndarray, np.ndarray]:
    """(counts, per_mask): every mask's counts end to end, and how many each has.

    `starts`, `ends`: runs (pixel offsets, column-major) grouped by id, in pixel order;
    id s has runs bounds[s]:bounds[s + 1]. Id s's counts are [gap, length] per run and then
    the zeros to the last pixel: 2 * runs + 1 of them, at 2 * bounds[s] + s onwards."""
    count = len(bounds) - 1
    runs = np.diff(bounds)
    owner = np.repeat(np.arange(count), runs)  # id of each run
    first = np.ones(len(starts), bool)
    first[1:] = owner[1:] != owner[:-1]
    previous_end = np.concatenate([[0], ends[:-1]])
    previous_end[first] = 0
    counts = np.empty(2 * len(starts) + count, np.int64)
    at = 2 * np.arange(len(starts)) + owner
    counts[at] = starts - previous_end
    counts[at + 1] = ends - starts
    last_end = np.zeros(count, np.int64)
    has_runs = runs > 0
    last_end[has_runs] = ends[bounds[1:][has_runs] - 1]
    counts[2 * bounds[1:] + np.arange(count)] = pixels - last_end
    return counts, 2 * runs + 1


def encode_all(counts_per_mask: tuple[np.ndarray, np.ndarray]) -> list[str]:
    """Each mask's counts as pycocotools' compressed string."""
    text, starts, ends = encode_joined(counts_per_mask)
    return [text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def encode_joined(
    counts_per_mask: tuple[np.ndarray, np.ndarray],
) -> tuple[str, np.ndarray, np.ndarray]:
    """(text, starts, ends): every mask's compressed string end to end, mask i's at
    text[starts[i]:ends[i]]."""
    counts, per_mask = counts_per_mask
    offsets = np.concatenate([[0], np.cumsum(per_mask)])
    local = np.arange(len(counts)) - np.repeat(offsets[:-1], per_mask)
    x = counts.copy()
    later = np.flatnonzero(local > 2)
    x[later] -= counts[later - 2]
    # k chunks hold -2**(5k - 1) <= x < 2**(5k - 1): magnitude bits + a sign bit, in fives.
    magnitude = np.where(x < 0, ~x, x)
    bits = np.frexp(magnitude.astype(np.float64))[1]  # bit length (exact below 2**53)
    chars_per_value = (bits + 5) // 5
    value = np.repeat(np.arange(len(x)), chars_per_value)
    value_ends = np.cumsum(chars_per_value)
    chunk = np.arange(len(value)) - (value_ends - chars_per_value)[value]
    chars = (x[value] >> (5 * chunk)) & 0x1F
    chars[chunk < chars_per_value[value] - 1] |= 0x20  # more to come
    text = (chars + 48).astype(np.uint8).tobytes().decode("ascii")
    ends = value_ends[offsets[1:] - 1]
    return text, np.concatenate([[0], ends])[:-1], ends
