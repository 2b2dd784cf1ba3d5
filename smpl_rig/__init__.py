"""SMPL skeleton and its math (numpy core); `smpl_rig.blender` is the thin bpy layer."""
