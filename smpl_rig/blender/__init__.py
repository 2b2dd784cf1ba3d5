"""Blender glue for `smpl_rig` (needs bpy): armature and keys (`armature`), body mesh (`body`), bulk F-curves
(`action`). The math lives in `smpl_rig.rig_pose`; these modules only hand its arrays to Blender."""
