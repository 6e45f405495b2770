"""Evaluation on scenes drawn by a code path of its own, apart from the training generator."""
