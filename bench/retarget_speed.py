"""How fast a long motion is retargeted: 10,000 frames of an SMPL armature baked onto a Mixamo-like character.

    .venv/bin/python bench/retarget_speed.py [--frames 10000] [--baseline-frames 200]

Reports seconds for the whole bake (reading the source's keys, solving, writing the new action) and for the numpy
solve alone, against the usual per-frame way (set the frame, set each bone's matrix, insert its keys) measured on a
few hundred frames and scaled up. The ratio is what to compare across machines; the target is at least 20x, which
puts 10,000 frames at seconds rather than minutes.
"""

import argparse
import sys
import time
from pathlib import Path

import bpy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blender_vibe.retarget.bake import bake_retarget, read_armature, sample_pose  # noqa: E402
from blender_vibe.retarget.bone_maps import detect_bone_map  # noqa: E402
from blender_vibe.retarget.solve import retarget  # noqa: E402
from smpl_rig.blender.armature import create_armature, key_motion  # noqa: E402
from smpl_rig.default_skeleton import default_rest_joints  # noqa: E402
from smpl_rig.rig_pose import blender_rest_joints  # noqa: E402
from tests.retarget_rigs import build_armature, mixamo_rig  # noqa: E402

TARGET_RATIO = 20.0


def smpl_source(frames: int) -> bpy.types.Object:
    rng = np.random.default_rng(0)
    rest_joints = default_rest_joints()
    armature = create_armature(bpy.context, "SMPL", bpy.context.scene.collection, blender_rest_joints(rest_joints))
    pose = rng.normal(scale=0.3, size=(frames, 72))
    pose[:, 0] += np.pi
    trans = np.array([0.0, 0.3, 4.0]) + np.cumsum(rng.normal(scale=0.01, size=(frames, 3)), axis=0)
    key_motion(armature, np.arange(1, frames + 1), pose, trans, rest_joints)
    return armature


def per_frame_seconds(source: bpy.types.Object, target: bpy.types.Object, bone_map: dict, frames: int) -> float:
    """The per-frame way: step the scene, copy each mapped bone's world rotation, key it."""
    source_world, target_world = source.matrix_world, target.matrix_world.inverted()
    start = time.perf_counter()
    for frame in range(1, frames + 1):
        bpy.context.scene.frame_set(frame)
        for joint, bone in bone_map.items():
            pose_bone = target.pose.bones[bone]
            matrix = target_world @ source_world @ source.pose.bones[joint].matrix
            matrix.translation = pose_bone.matrix.translation
            pose_bone.matrix = matrix
            bpy.context.view_layer.update()
            pose_bone.keyframe_insert("rotation_quaternion", frame=frame)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--baseline-frames", type=int, default=200)
    args = parser.parse_args()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    source = smpl_source(args.frames)
    target = build_armature(mixamo_rig(), "Character")
    _, bone_map = detect_bone_map([b.name for b in target.data.bones])

    start = time.perf_counter()
    bake_retarget(source, target, bone_map)
    bake = time.perf_counter() - start

    source_rest, target_rest = read_armature(source), read_armature(target)
    source_pose = sample_pose(source, source_rest, np.arange(1, args.frames + 1))
    start = time.perf_counter()
    retarget(source_rest, source_pose, target_rest, bone_map)
    solve = time.perf_counter() - start

    baseline_target = build_armature(mixamo_rig(), "PerFrame")
    baseline = per_frame_seconds(source, baseline_target, bone_map, args.baseline_frames)
    baseline_total = baseline / args.baseline_frames * args.frames
    ratio = baseline_total / bake
    print(f"frames: {args.frames}, mapped bones: {len(bone_map)}")
    print(f"bake (read + solve + write): {bake:.2f} s ({args.frames / bake:.0f} frames/s)")
    print(f"numpy solve alone: {solve:.2f} s")
    print(f"per-frame keying: {baseline:.2f} s for {args.baseline_frames} frames, ~{baseline_total:.0f} s for all")
    print(f"speed-up: {ratio:.0f}x (target >= {TARGET_RATIO:.0f}x): {'ok' if ratio >= TARGET_RATIO else 'TOO SLOW'}")
    sys.exit(0 if ratio >= TARGET_RATIO else 1)


if __name__ == "__main__":
    main()
