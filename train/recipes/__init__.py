"""Committed, re-runnable recipes (``python -m train.recipes.NAME``)."""
