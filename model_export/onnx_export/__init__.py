"""Keras -> ONNX export with every custom layer lowered to standard ONNX operators."""
