"""blender-vibe backend: video -> people -> SMPL motion (VIBE, TCMR or the embedded default estimator)."""

__version__ = "0.1.0"
