"""Retargeting the SMPL armature's motion onto other characters.

`bone_maps` (which bone plays each SMPL joint; no bpy) and `solve` (world-space transfer math; numpy, no bpy) are
testable without Blender; `bake` reads and writes Blender data in bulk and `character` appends a character from a
.blend file. The operators and the panel live in `blender_vibe.retarget_op`.
"""
