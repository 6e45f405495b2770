"""Custom Keras layers of Fast R-CNN-style region classifiers."""

from model_export.layers.masked_conv import MaskedConv2D
from model_export.layers.region_proposals import RegionProposals
from model_export.layers.roi_pooling import RoiPooling
from model_export.layers.superpixel_pooling import SuperpixelPooling

__all__ = ["MaskedConv2D", "RegionProposals", "RoiPooling", "SuperpixelPooling"]
