"""Evaluation: held-out multiple-choice accuracy for every checkpoint, next to chance."""
