"""Training a region classifier on a COCO-format dataset."""
