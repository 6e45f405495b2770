"""RegionServe's HTTP service: per-region class scores from an ONNX region classifier."""
