"""Plain NumPy references of the custom layers, written for obviousness, not speed.

`roi_pool` follows Caffe's Fast R-CNN ROIPoolingLayer line by line in float32, including its
scan `maxval = -FLT_MAX; if (x > maxval) maxval = x`: NaN never wins and a bin of only -inf
or NaN gives -FLT_MAX (as torchvision's roi_pool and onnxruntime's MaxRoiPool on -inf).
"""

import math
from collections.abc import Iterator

import numpy as np

LOWEST_FLOAT32 = np.finfo(np.float32).min


def c_round(value: np.float32) -> int:
    """C's round(): halves go away from zero."""
    return int(math.copysign(math.floor(abs(float(value)) + 0.5), float(value)))


def caffe_visible(values: np.ndarray) -> np.ndarray:
    """Values as Caffe's scan from -FLT_MAX sees them: NaN and anything lower become -FLT_MAX."""
    return np.where(np.isnan(values), LOWEST_FLOAT32, np.maximum(values, LOWEST_FLOAT32))


def roi_bins(
    rois: np.ndarray, pooled_size: tuple[int, int], spatial_scale: float, height: int, width: int
) -> Iterator[tuple[int, int, int, slice, slice]]:
    """(roi, ph, pw, rows, cols) of every non-empty bin, by Caffe's formula."""
    ph_count, pw_count = pooled_size
    scale = np.float32(spatial_scale)
    for r, roi in enumerate(np.asarray(rois, np.float32)):
        x1, y1, x2, y2 = (c_round(np.float32(v * scale)) for v in roi[1:])
        roi_h, roi_w = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
        bin_h = np.float32(roi_h) / np.float32(ph_count)
        bin_w = np.float32(roi_w) / np.float32(pw_count)
        for ph in range(ph_count):
            hs = min(max(math.floor(np.float32(ph) * bin_h) + y1, 0), height)
            he = min(max(math.ceil(np.float32(ph + 1) * bin_h) + y1, 0), height)
            for pw in range(pw_count):
                ws = min(max(math.floor(np.float32(pw) * bin_w) + x1, 0), width)
                we = min(max(math.ceil(np.float32(pw + 1) * bin_w) + x1, 0), width)
                if he > hs and we > ws:
                    yield r, ph, pw, slice(hs, he), slice(ws, we)


def roi_pool(
    features: np.ndarray, rois: np.ndarray, pooled_size: tuple[int, int], spatial_scale: float
) -> np.ndarray:
    """(B, H, W, C) features, (R, 5) rois -> (R, PH, PW, C) float32; empty bins are 0."""
    _, height, width, channels = features.shape
    out = np.zeros((len(rois), *pooled_size, channels), np.float32)
    for r, ph, pw, rows, cols in roi_bins(rois, pooled_size, spatial_scale, height, width):
        out[r, ph, pw] = caffe_visible(features[int(rois[r][0]), rows, cols]).max(axis=(0, 1))
    return out


def roi_pool_gradient(
    features: np.ndarray,
    rois: np.ndarray,
    pooled_size: tuple[int, int],
    spatial_scale: float,
    upstream: np.ndarray,
) -> np.ndarray:
    """Caffe's backward: each bin's gradient goes to the first cell holding its maximum, none
    when no cell beats -FLT_MAX."""
    _, height, width, channels = features.shape
    grad = np.zeros(features.shape, np.float64)
    for r, ph, pw, rows, cols in roi_bins(rois, pooled_size, spatial_scale, height, width):
        b = int(rois[r][0])
        window = caffe_visible(features[b, rows, cols].reshape(-1, channels))
        first = window.argmax(axis=0)  # row-major scan, first maximum wins
        beaten = window.max(axis=0) > LOWEST_FLOAT32
        ys, xs = np.divmod(first[beaten], cols.stop - cols.start)
        ys, xs = ys + rows.start, xs + cols.start
        channel = np.arange(channels)[beaten]
        grad[b, ys, xs, channel] += upstream[r, ph, pw][beaten]  # one cell per channel
    return grad.astype(np.float32)


def superpixel_pool(features: np.ndarray, superpixels: np.ndarray, mode: str) -> np.ndarray:
    """(B, H, W, C) features, (B, H, W) ids -> (B, S, C) float32."""
    batch, _, _, channels = features.shape
    count = int(superpixels.max()) + 1 if superpixels.size else 0
    count = max(count, 0)
    out = np.zeros((batch, count, channels), np.float32)
    reduce = np.mean if mode == "average" else np.max
    for b in range(batch):
        for s in range(count):
            members = features[b][superpixels[b] == s]
            if len(members):
                out[b, s] = reduce(members.astype(np.float32), axis=0)
    return out


def masked_conv2d_valid(x: np.ndarray, kernel: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Stride-1 'valid' convolution of (B, H, W, Cin) with a masked (kh, kw, Cin, F) kernel."""
    kh, kw = mask.shape
    masked = kernel * mask[:, :, None, None]
    batch, height, width, _ = x.shape
    out = np.zeros((batch, height - kh + 1, width - kw + 1, kernel.shape[-1]), np.float64)
    for i in range(kh):
        for j in range(kw):
            out += np.einsum(
                "bhwc,cf->bhwf", x[:, i : i + out.shape[1], j : j + out.shape[2]], masked[i, j]
            )
    return out.astype(np.float32)
