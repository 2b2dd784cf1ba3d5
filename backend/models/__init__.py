"""Torch networks of the official models, with parameter names equal to the published checkpoints."""
