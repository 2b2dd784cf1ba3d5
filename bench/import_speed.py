"""Bulk import vs per-frame `keyframe_insert` (the official VIBE exporter's way) for one person, in one run.

    .venv/bin/python bench/import_speed.py [--frames 10000]

Ours: the whole `blender_vibe.importer.import_motion` (armature, bulk keys, proxy body). Baseline: the same armature
and the same channel values (24 bone quaternions and the Pelvis location), keyed frame by frame with
`pose_bone.keyframe_insert`. The official exporter also calls `scene.frame_set` on every frame; the baseline skips
that, so it is if anything faster than the original. Prints both times and their ratio (target: at least 50x).
The baseline slows down with the length of its F-curves: minutes at 10,000 frames; use --frames for a quick look.
"""

import argparse
import sys
import time
from pathlib import Path

import bpy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blender_vibe.importer import import_motion  # noqa: E402
from smpl_rig.blender.armature import create_armature, rest_rotations  # noqa: E402
from smpl_rig.default_skeleton import default_rest_joints  # noqa: E402
from smpl_rig.motion import Motion, Person  # noqa: E402
from smpl_rig.rig_pose import blender_rest_joints, pose_bone_channels  # noqa: E402


def synthetic_motion(frames: int) -> Motion:
    rng = np.random.default_rng(0)
    t = np.arange(frames)[:, None]
    pose = 0.6 * np.sin(t * rng.uniform(0.01, 0.1, size=72) + rng.uniform(0, 6, size=72))
    pose[:, :3] = [np.pi, 0.0, 0.0]
    person = Person(
        pose=pose, betas=np.zeros((frames, 10)), trans=np.tile([0.0, 0.0, 5.0], (frames, 1)),
        cam=np.zeros((frames, 3)), orig_cam=np.zeros((frames, 4)), bboxes=np.zeros((frames, 4)),
        frame_ids=np.arange(frames), joints3d=np.zeros((frames, 0, 3)),
    )
    return Motion(fps=30.0, width=1920, height=1080, estimator="bench", people={1: person})


def per_frame_import(context: bpy.types.Context, person: Person) -> None:
    """The baseline: armature, then one keyframe_insert per bone and frame."""
    collection = bpy.data.collections.new("baseline")
    context.scene.collection.children.link(collection)
    rest_joints = default_rest_joints()
    armature = create_armature(context, "baseline", collection, blender_rest_joints(rest_joints))
    quaternions, root_location = pose_bone_channels(person.pose, person.trans, rest_joints, rest_rotations(armature))
    bones = list(armature.pose.bones)
    for i, frame in enumerate(person.frame_ids + 1):
        for j, bone in enumerate(bones):
            bone.rotation_quaternion = quaternions[i, j]
            bone.keyframe_insert("rotation_quaternion", frame=frame)
        bones[0].location = root_location[i]
        bones[0].keyframe_insert("location", frame=frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000)
    args = parser.parse_args()
    motion = synthetic_motion(args.frames)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    context = bpy.context

    start = time.perf_counter()
    import_motion(context, motion, None)
    bulk = time.perf_counter() - start

    start = time.perf_counter()
    per_frame_import(context, motion.people[1])
    baseline = time.perf_counter() - start

    print(f"frames: {args.frames}, bones: 24 quaternions + root location")
    print(f"bulk import_motion:          {bulk:8.3f} s")
    print(f"per-frame keyframe_insert:   {baseline:8.3f} s")
    print(f"ratio: {baseline / bulk:.1f}x (target >= 50x)")


if __name__ == "__main__":
    main()
