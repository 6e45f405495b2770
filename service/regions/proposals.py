"""Proposals mode: selective search (opencv-contrib), then class-wise NMS (OpenCV's dnn).

OpenCV ranks selective search's boxes by hierarchy level times C `rand()`, so their order
changes from call to call although the set of boxes does not. The service ranks them itself:
by area, then by corner, and keeps an evenly spaced pick across that order when there are too
many, so every scale stays represented and the same image always gives the same boxes.
"""

import cv2
import numpy as np

cv2.setNumThreads(1)  # requests run in parallel threads already
ss = cv2.ximgproc.segmentation
# Selective search's graph segmentations (Felzenszwalb-Huttenlocher): the k of each and the
# smallest segment in pixels, as OpenCV's "fast" mode sets them for a working side of AT_SIDE;
# a smaller working side scales both with its area, so that a scene's objects, fewer pixels
# there, still start as segments of their own.
GRAPH_KS, GRAPH_MIN_SIZE, AT_SIDE = (150.0, 300.0, 450.0), 100.0, 512
# Fewer searches than fast mode (HSV and Lab, two groupings): HSV alone and the colour + fill +
# texture + size grouping alone, at a 384 px side, find as many digits at a third of the time
# (`python -m bench modes`, bench/RESULTS.md).
COLOR_SPACES = (cv2.COLOR_BGR2HSV,)  # the images segmented
ONE_STRATEGY = True  # fast mode adds a fill + texture + size grouping


def selective_search(pixels: np.ndarray, side: int, max_count: int, min_side: int) -> np.ndarray:
    """Up to max_count candidate boxes [x1, y1, x2, y2] in the pixels' coordinates."""
    height, width = pixels.shape[:2]
    scale = min(1.0, side / max(height, width))
    size = (max(round(width * scale), 1), max(round(height * scale), 1))  # 1 px at least
    small = cv2.resize(pixels, size) if scale < 1 else pixels
    area_ratio = min(1.0, side / AT_SIDE) ** 2
    rects = np.asarray(searched(small, area_ratio), np.float64).reshape(-1, 4)  # x, y, w, h
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1) / scale
    sides = boxes[:, 2:] - boxes[:, :2]
    keep = (sides.min(axis=1) >= min_side) & (sides[:, 0] < width) & (sides[:, 1] < height)
    boxes = np.clip(boxes[keep], 0, [width, height, width, height])
    return ranked(np.unique(np.rint(boxes), axis=0), max_count)


def searched(pixels: np.ndarray, area_ratio: float) -> np.ndarray:
    """Selective search's rects [x, y, w, h] (Uijlings et al. 2013): the image in each of
    COLOR_SPACES, a graph segmentation at each of GRAPH_KS times `area_ratio`, the grouping
    strategies."""
    bgr = np.ascontiguousarray(pixels[:, :, ::-1])  # OpenCV wants BGR
    search = ss.createSelectiveSearchSegmentation()
    search.setBaseImage(bgr)
    search.clearImages()
    search.clearGraphSegmentations()
    search.clearStrategies()
    for space in COLOR_SPACES:
        search.addImage(cv2.cvtColor(bgr, space))
    for k in GRAPH_KS:
        graph = ss.createGraphSegmentation(sigma=0.8, k=k * area_ratio)
        graph.setMinSize(max(round(GRAPH_MIN_SIZE * area_ratio), 1))
        search.addGraphSegmentation(graph)
    fill, size = (
        ss.createSelectiveSearchSegmentationStrategyFill,
        ss.createSelectiveSearchSegmentationStrategySize,
    )
    texture = ss.createSelectiveSearchSegmentationStrategyTexture
    color = ss.createSelectiveSearchSegmentationStrategyColor
    search.addStrategy(
        ss.createSelectiveSearchSegmentationStrategyMultiple(color(), fill(), texture(), size())
    )
    if not ONE_STRATEGY:
        search.addStrategy(
            ss.createSelectiveSearchSegmentationStrategyMultiple(fill(), texture(), size())
        )
    return np.asarray(search.process())


def ranked(boxes: np.ndarray, max_count: int) -> np.ndarray:
    """Up to max_count of `boxes`, smallest area first, evenly spaced over all their areas;
    equal areas in corner order, so the answer depends on the set of boxes alone."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.lexsort((boxes[:, 3], boxes[:, 2], boxes[:, 1], boxes[:, 0], area))
    if len(order) > max_count:
        order = order[np.linspace(0, len(order) - 1, max_count).round().astype(int)]
    return boxes[order]


def classwise_nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, threshold: float, iou: float
) -> np.ndarray:
    """Indices kept by non-maximum suppression within each class, best score first."""
    if not len(boxes):
        return np.zeros(0, int)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    found = cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), scores.tolist(), classes.tolist(), threshold, iou
    )
    kept = np.asarray(found, int).reshape(-1)
    return kept[np.argsort(-scores[kept], kind="stable")]
