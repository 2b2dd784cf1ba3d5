"""Bulk F-curve writing that works with Blender 4.2's legacy actions and the layered actions of Blender 4.4 and 5.x.

Keys are written with `keyframe_points.add` + `foreach_set` (one call per curve, whatever the number of frames)
instead of one `keyframe_insert` per key. The API is chosen by feature: layered actions have
`fcurve_ensure_for_datablock` (which also creates the slot, layer, strip and channel bag); Blender 4.2 has
`action.fcurves.new`.
"""

from collections.abc import Callable, Iterable

import bpy
import numpy as np

Curve = tuple[str, int, str, np.ndarray]
"""(data_path, array index, channel group name, values (K,)) for one F-curve."""


def interpolation_value(name: str) -> int:
    """The integer `Keyframe.interpolation` takes in `foreach_set`/`foreach_get` for an interpolation name."""
    return bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items[name].value


def new_action(owner: bpy.types.ID, name: str) -> bpy.types.Action:
    """A new action assigned to `owner` (an object), ready for `write_curves`."""
    action = bpy.data.actions.new(name)
    if owner.animation_data is None:
        owner.animation_data_create()
    owner.animation_data.action = action
    return action


def _fcurve_maker(action: bpy.types.Action, owner: bpy.types.ID) -> Callable[[str, int, str], bpy.types.FCurve]:
    if hasattr(action, "fcurve_ensure_for_datablock"):
        return lambda path, index, group: action.fcurve_ensure_for_datablock(
            owner, path, index=index, group_name=group
        )
    return lambda path, index, group: action.fcurves.new(path, index=index, action_group=group)


def write_curves(
    action: bpy.types.Action,
    owner: bpy.types.ID,
    frames: np.ndarray,
    curves: Iterable[Curve],
    interpolation: str = "LINEAR",
) -> None:
    """Write one key per frame on each curve of `owner`'s `action`; every curve shares `frames` (K,)."""
    make_fcurve = _fcurve_maker(action, owner)
    frames = np.asarray(frames, dtype=np.float32)
    co = np.empty((len(frames), 2), dtype=np.float32)
    co[:, 0] = frames
    modes = np.full(len(frames), interpolation_value(interpolation), dtype=np.int32)
    for data_path, index, group, values in curves:
        fcurve = make_fcurve(data_path, index, group)
        co[:, 1] = values
        points = fcurve.keyframe_points
        points.add(len(frames))
        points.foreach_set("co", co.ravel())
        points.foreach_set("interpolation", modes)
        fcurve.update()


def key_visibility(owner: bpy.types.Object, frames: np.ndarray, hidden: np.ndarray) -> None:
    """Key `hide_viewport` and `hide_render` (constant interpolation) into the owner's action, or a new one."""
    animation = owner.animation_data
    action = animation.action if animation and animation.action else new_action(owner, f"{owner.name} visibility")
    curves = [(prop, 0, "Visibility", hidden) for prop in ("hide_viewport", "hide_render")]
    write_curves(action, owner, frames, curves, "CONSTANT")


def owner_fcurves(owner: bpy.types.Object) -> list[bpy.types.FCurve]:
    """The F-curves animating `owner` through its action (its slot's channel bag on layered actions)."""
    animation = owner.animation_data
    action = animation.action if animation else None
    if action is None:
        return []
    if not hasattr(action, "layers") or not hasattr(animation, "action_slot"):
        return list(action.fcurves)
    slot = animation.action_slot
    bags = [strip.channelbag(slot) for layer in action.layers for strip in layer.strips] if slot else []
    return [fcurve for bag in bags if bag is not None for fcurve in bag.fcurves]


def action_fcurves(action: bpy.types.Action) -> list[bpy.types.FCurve]:
    """Every F-curve of an action: all slots' channel bags on layered actions, `action.fcurves` on legacy ones."""
    if not hasattr(action, "layers"):
        return list(action.fcurves)
    return [fcurve for layer in action.layers for strip in layer.strips for bag in strip.channelbags
            for fcurve in bag.fcurves]
