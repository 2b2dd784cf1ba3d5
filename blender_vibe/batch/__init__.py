"""Many videos at once: `python -m blender_vibe.batch INPUTS... --out DIR` (see cli.py).

Runs without Blender's UI, with the `bpy` module, on this machine's CPUs (`--workers N`) or as Ray tasks (`--ray`).
Nothing here is part of the add-on's registration.
"""
