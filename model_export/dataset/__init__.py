"""COCO-format digit scenes composed from the real UCI handwritten digits."""
