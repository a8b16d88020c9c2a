"""Bark: safe loading of its weights, the exact fast path, tiny test models."""
