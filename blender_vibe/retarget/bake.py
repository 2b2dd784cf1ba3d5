"""Blender side of retargeting: rest data and the source's keyed motion read in bulk, the result baked into a new
action on the target with one bulk write per F-curve (`smpl_rig.blender.action`).

The source motion is read from its active action's F-curves (keys on every sampled frame are taken as they are,
linear keys interpolated in bulk, other curves evaluated per frame), not by stepping the scene frame by frame: that
keeps 10,000 frames in seconds. Drivers, constraints, NLA strips and object-level animation of the source are
therefore not part of what is transferred.
"""

from collections.abc import Mapping

import bpy
import numpy as np

from smpl_rig.blender.action import Curve, interpolation_value, new_action, owner_fcurves, write_curves
from smpl_rig.blender.armature import CONTACT_PROPERTIES
from smpl_rig.rotations import axis_angle_to_matrix, quaternion_to_matrix

from .bone_maps import check_bone_map
from .solve import RestArmature, pose_matrices, retarget

_EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


class RetargetError(RuntimeError):
    """Retargeting cannot start; the message says what is wrong and what to do."""


def read_armature(obj: bpy.types.Object) -> RestArmature:
    """An armature object's bones and transform as plain arrays."""
    bones = obj.data.bones
    count = len(bones)
    rest = np.empty(count * 16, dtype=np.float32)
    bones.foreach_get("matrix_local", rest)
    connected = np.empty(count, dtype=bool)
    bones.foreach_get("use_connect", connected)
    return RestArmature.from_bones(
        names=[b.name for b in bones],
        parent_names=[b.parent.name if b.parent else None for b in bones],
        rest=np.swapaxes(rest.reshape(count, 4, 4), 1, 2),  # foreach_get gives matrices column by column
        connected=connected,
        matrix_world=np.array(obj.matrix_world, dtype=np.float64),
    )


def action_frames(obj: bpy.types.Object) -> np.ndarray:
    """Every whole frame from the first to the last key of the object's bones: the span the person was tracked.

    Other keys of the action (the importer's visibility keys cover the whole scene) do not widen it, so a person
    seen on frames 500-600 bakes 101 frames, not the whole clip held still."""
    action = obj.animation_data.action if obj.animation_data else None
    if action is None:
        raise RetargetError(f"'{obj.name}' has no animation to retarget: import a motion onto it first.")
    spans = [fcurve.range() for fcurve in owner_fcurves(obj) if fcurve.data_path.startswith("pose.bones")]
    start, end = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else action.frame_range
    return np.arange(int(np.floor(start)), int(np.ceil(end)) + 1)


def sample_pose(obj: bpy.types.Object, armature: RestArmature, frames: np.ndarray) -> np.ndarray:
    """Armature-space pose matrices (N, B, 4, 4) of every bone at `frames`, from the active action's F-curves."""
    curves = {(fc.data_path, fc.array_index): fc for fc in owner_fcurves(obj) if not fc.mute}
    rotations = np.empty((len(frames), len(armature.names), 3, 3))
    locations = np.empty((len(frames), len(armature.names), 3))
    for b, name in enumerate(armature.names):
        pose_bone = obj.pose.bones[name]
        path = f'pose.bones["{bpy.utils.escape_identifier(name)}"].'
        locations[:, b] = _channel(curves, path + "location", pose_bone.location, frames)
        rotations[:, b] = _rotation(pose_bone, curves, path, frames)
    return pose_matrices(armature, rotations, locations)


def source_contacts(obj: bpy.types.Object, frames: np.ndarray) -> np.ndarray | None:
    """(N, 2) bool: the source's left and right foot planted on `frames`, from its keyed contact properties; None
    when it has none (an armature imported without a world, or made otherwise)."""
    curves = {fc.data_path: fc for fc in owner_fcurves(obj) if not fc.mute}
    paths = [f'["{name}"]' for name in CONTACT_PROPERTIES]
    if not all(path in curves for path in paths):
        return None
    return np.stack([_sample(curves[path], frames) > 0.5 for path in paths], axis=1)


def bake_retarget(
    source: bpy.types.Object,
    target: bpy.types.Object,
    bone_map: Mapping[str, str],
    scale_root_motion: bool = True,
    feet_on_ground: bool = False,
    switch_properties: Mapping[str, float] | None = None,
    lock_feet: bool = True,
) -> bpy.types.Action:
    """Retarget `source`'s active action (SMPL bone names) onto `target`, as a new action assigned to it.

    Every pose bone of the target is reset to rest first, so bones left out of the map stay unposed; mapped bones
    switch to quaternion rotation. With `lock_feet`, the feet the source has planted (its keyed contact properties,
    `smpl_rig.blender.armature.key_contacts`) stay planted on the target.
    """
    for obj, role in ((source, "source"), (target, "target")):
        if obj is None or obj.type != "ARMATURE":
            raise RetargetError(f"The {role} must be an armature object.")
    missing = [joint for joint in bone_map if joint not in source.data.bones]
    if missing:
        raise RetargetError(
            f"Source '{source.name}' has no bones named {', '.join(missing)}: retarget from an SMPL armature made by "
            f"Import Motion."
        )
    check_bone_map(bone_map, [b.name for b in target.data.bones], f"'{target.name}'")
    frames = action_frames(source)
    source_rest = read_armature(source)
    motion = retarget(
        source_rest,
        sample_pose(source, source_rest, frames),
        read_armature(target),
        bone_map,
        scale_root_motion=scale_root_motion,
        feet_on_ground=feet_on_ground,
        contacts=source_contacts(source, frames) if lock_feet else None,
        fps=bpy.context.scene.render.fps / bpy.context.scene.render.fps_base,
    )
    _reset_pose(target)
    for name in motion.bones:
        target.pose.bones[name].rotation_mode = "QUATERNION"
    for pose_bone in target.pose.bones:
        for key, value in (switch_properties or {}).items():
            if key in pose_bone:
                pose_bone[key] = value
    curves: list[Curve] = [
        (_bone_path(name, "rotation_quaternion"), k, name, motion.quaternions[:, m, k])
        for m, name in enumerate(motion.bones)
        for k in range(4)
    ]
    root_path = _bone_path(motion.root_bone, "location")
    curves += [(root_path, k, motion.root_bone, motion.root_location[:, k]) for k in range(3)]
    action = new_action(target, f"{target.name} from {source.name}")
    write_curves(action, target, frames, curves)
    return action


def _bone_path(bone: str, prop: str) -> str:
    return f'pose.bones["{bpy.utils.escape_identifier(bone)}"].{prop}'


def _channel(curves: Mapping, path: str, static, frames: np.ndarray) -> np.ndarray:
    """(N, len(static)) values of an animatable array property: its F-curves where keyed, else its current value."""
    values = np.empty((len(frames), len(static)))
    for k in range(len(static)):
        fcurve = curves.get((path, k))
        values[:, k] = static[k] if fcurve is None else _sample(fcurve, frames)
    return values


def _sample(fcurve: bpy.types.FCurve, frames: np.ndarray) -> np.ndarray:
    """The curve at `frames`, read in bulk where Blender's evaluation is a lookup (a key on every frame) or a straight
    line between keys (linear keys, constant extrapolation: an import with tracking gaps, or a person who enters
    late); else evaluated frame by frame."""
    points = fcurve.keyframe_points
    co = np.empty(2 * len(points), dtype=np.float32)
    points.foreach_get("co", co)
    times, values = co[0::2].astype(np.float64), co[1::2].astype(np.float64)
    if len(times) and not len(fcurve.modifiers):
        at = np.clip(np.searchsorted(times, frames - 0.5), 0, len(times) - 1)
        if np.allclose(times[at], frames, atol=1e-3):
            return values[at]
        modes = np.empty(len(points), dtype=np.int32)
        points.foreach_get("interpolation", modes)
        if fcurve.extrapolation == "CONSTANT" and np.all(modes[:-1] == interpolation_value("LINEAR")):
            return np.interp(frames, times, values)
    return np.array([fcurve.evaluate(float(f)) for f in frames])


def _rotation(pose_bone: bpy.types.PoseBone, curves: Mapping, path: str, frames: np.ndarray) -> np.ndarray:
    """(N, 3, 3) local rotations in the bone's own rotation mode."""
    mode = pose_bone.rotation_mode
    if mode == "QUATERNION":
        quaternions = _channel(curves, path + "rotation_quaternion", pose_bone.rotation_quaternion, frames)
        return quaternion_to_matrix(quaternions)
    if mode == "AXIS_ANGLE":
        angle_axis = _channel(curves, path + "rotation_axis_angle", pose_bone.rotation_axis_angle, frames)
        axis = angle_axis[:, 1:] / np.maximum(np.linalg.norm(angle_axis[:, 1:], axis=1, keepdims=True), 1e-12)
        return axis_angle_to_matrix(axis * angle_axis[:, :1])
    if mode in _EULER_ORDERS:
        return _euler_to_matrix(_channel(curves, path + "rotation_euler", pose_bone.rotation_euler, frames), mode)
    raise RetargetError(f"Bone '{pose_bone.name}' uses an unknown rotation mode {mode}.")


def _euler_to_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """(N, 3) Euler angles (x, y, z) applied in `order` (Blender's 'XYZ': X first) -> (N, 3, 3)."""
    result = np.eye(3)
    for axis_name in order:
        axis = "XYZ".index(axis_name)
        result = axis_angle_to_matrix(angles[:, axis, None] * np.eye(3)[axis]) @ result
    return result


def _reset_pose(obj: bpy.types.Object) -> None:
    """Every pose bone back to rest: zero location and rotation, unit scale."""
    bones = obj.pose.bones
    count = len(bones)
    bones.foreach_set("location", np.zeros(3 * count, dtype=np.float32))
    bones.foreach_set("rotation_quaternion", np.tile(np.float32([1, 0, 0, 0]), count))
    bones.foreach_set("rotation_euler", np.zeros(3 * count, dtype=np.float32))
    bones.foreach_set("rotation_axis_angle", np.tile(np.float32([0, 0, 1, 0]), count))
    bones.foreach_set("scale", np.ones(3 * count, dtype=np.float32))
