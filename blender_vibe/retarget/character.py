"""Bring a character from a .blend file into the scene and retarget a motion onto it (used by `--target` of the
headless command)."""

import os
from pathlib import Path

import bpy

from .bake import RetargetError, bake_retarget
from .bone_maps import BoneMapError, detect_bone_map


def character_objects(armature: bpy.types.Object, candidates=None) -> list[bpy.types.Object]:
    """The armature and the meshes it deforms (children, or meshes with an Armature modifier pointing at it), looked
    for among `candidates` (default: every object of the file)."""
    meshes = [
        obj
        for obj in (bpy.data.objects if candidates is None else candidates)
        if obj.type == "MESH"
        and (obj.parent == armature or any(m.type == "ARMATURE" and m.object == armature for m in obj.modifiers))
    ]
    return [armature, *meshes]


def append_character(context: bpy.types.Context, blend_path: str | os.PathLike) -> bpy.types.Object:
    """Append the character of a .blend file into the scene: its armature that best fits a built-in bone map, with
    the meshes it deforms. Everything else the file holds is left out."""
    path = Path(blend_path)
    if not path.is_file():
        raise RetargetError(f"Character file not found: {path}. Pass the .blend file of the character's armature.")
    if path.suffix.lower() != ".blend":
        raise RetargetError(f"{path.name} is not a .blend file: save the character's armature in a .blend file.")
    with bpy.data.libraries.load(str(path), link=False) as (available, loaded):
        loaded.objects = list(available.objects)
    appended = [obj for obj in loaded.objects if obj is not None]
    armatures = [obj for obj in appended if obj.type == "ARMATURE"]
    if not armatures:
        _remove(appended)
        raise RetargetError(f"{path.name} holds no armature: save the character with its armature in that file.")
    armature = _best_fitting(armatures)
    keep = character_objects(armature)
    collection = bpy.data.collections.new(path.stem)
    context.scene.collection.children.link(collection)
    for obj in keep:
        collection.objects.link(obj)
    _remove([obj for obj in appended if obj not in keep])
    context.view_layer.update()  # the view layer lists the new objects only after an update
    return armature


def retarget_onto_character(
    context: bpy.types.Context,
    source_armature: bpy.types.Object,
    character_blend_path: str | os.PathLike,
    scale_root_motion: bool = True,
    feet_on_ground: bool = False,
) -> bpy.types.Object:
    """Append the character from `character_blend_path` and bake `source_armature`'s motion onto it with the bone
    map detected from its bone names. Returns the character's armature; its meshes are `character_objects(it)`.
    Raises RetargetError or BoneMapError (a ValueError) with a message for the user."""
    armature = append_character(context, character_blend_path)
    preset, bone_map = detect_bone_map([b.name for b in armature.data.bones], armature_name=f"'{armature.name}'")
    bake_retarget(
        source_armature, armature, bone_map, scale_root_motion, feet_on_ground, preset.switch_properties
    )
    return armature


def _best_fitting(armatures: list[bpy.types.Object]) -> bpy.types.Object:
    """The first armature a built-in map fits, else the one with most bones (its error message is the useful one)."""
    for armature in armatures:
        try:
            detect_bone_map([b.name for b in armature.data.bones])
        except BoneMapError:
            continue
        return armature
    return max(armatures, key=lambda obj: len(obj.data.bones))


def _remove(objects: list[bpy.types.Object]) -> None:
    for obj in objects:
        bpy.data.objects.remove(obj)
