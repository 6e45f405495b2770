"""Training, custom Keras layers and ONNX export for RegionServe region classifiers."""
