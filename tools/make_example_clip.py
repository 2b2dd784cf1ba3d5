"""Render an example clip of a person performing a known motion, and save the true SMPL joints beside it.

    .venv/bin/python -m tools.make_example_clip [--name NAME] [--out examples] [--fps 30] [--seconds 5]
                                                [--size 480x640]

The person is the open Anny body model (tools/anny_body.py) doing the motion of tools/example_motion.py in a room,
filmed by a still pinhole camera at chest height whose focal length in pixels is the image diagonal (the assumption
`smpl_rig.camera` makes about users' videos), so the standing body fills about 60 % of the frame height.

Writes OUT/NAME.mp4 (H.264 through ffmpeg when it is on PATH, else MPEG-4 part 2, 'mp4v') and OUT/NAME_truth.npz with
  joints3d    (N, 24, 3) float64: the 24 SMPL joints (smpl_rig.skeleton order) in VIBE's camera frame
              (x right, y down, z forward), metres; row i is video frame i
  joint_names (24,), frame_ids (N,), fps, width, height
  intrinsics  (3, 3) pinhole matrix [[f, 0, W/2], [0, f, H/2], [0, 0, 1]], pixels, origin at the image's top-left
  body, motion, joint_mapping: text describing how the clip was made
Rendering 150 frames at 480x640 takes a few minutes on two CPU cores.
"""

import argparse
from pathlib import Path

import numpy as np

from smpl_rig.camera import CAMERA_TO_BLENDER
from smpl_rig.skeleton import JOINT_NAMES
from tools.anny_body import GARMENTS, PHENOTYPE, SMPL_FROM_ANNY, AnnyBody, smpl_joints, stand_in_place
from tools.example_motion import example_motion
from tools.scene import intrinsics
from tools.world import Mesh, room

CAMERA_HEIGHT = 1.3  # metres above the floor
BODY_FRACTION = 0.6  # standing height / frame height
WALL_BEHIND = 2.0  # metres from the person to the wall
GARMENT_COLOURS = {
    "skin": (0.80, 0.58, 0.45), "shirt": (0.70, 0.16, 0.12), "trousers": (0.15, 0.18, 0.30),
    "shoes": (0.08, 0.08, 0.08), "hair": (0.16, 0.10, 0.06), "eyes": (0.05, 0.04, 0.04),
}
MOTION_TEXT = ("arm raises (0-1.7 s), a squat (1.5-3.3 s), marching in place (3.2-5 s), "
               "swaying +-20 degrees about the vertical")


def world_to_camera(points: np.ndarray) -> np.ndarray:
    """Blender world points (..., 3) -> VIBE's camera frame, for the camera at the origin looking along +Y."""
    return np.asarray(points) @ CAMERA_TO_BLENDER


def make_clip(name: str, out_dir: Path, fps: float, seconds: float, width: int, height: int) -> tuple[Path, Path]:
    """Render the clip and write the video and truth file; returns their paths."""
    num_frames = int(round(seconds * fps))
    motion = example_motion(num_frames, fps)
    body = AnnyBody()
    rest_vertices, rest_heads = body.pose({"root": np.zeros((1, 3))})
    vertices, heads = body.pose(motion.rotations)
    vertices, heads = stand_in_place(vertices, heads, body.bone_labels, rest_heads[0], motion.yaw)

    k = intrinsics(width, height)
    stature = np.ptp(rest_vertices[0, :, 2])
    distance = k[0, 0] * stature / (BODY_FRACTION * height)
    place = np.array([0.0, distance, -CAMERA_HEIGHT])  # Anny already faces -y: towards the camera
    vertices, heads = vertices + place, heads + place

    colours = np.array([GARMENT_COLOURS[g] for g in GARMENTS])[body.garments()]
    out_dir.mkdir(parents=True, exist_ok=True)
    video_path, truth_path = out_dir / f"{name}.mp4", out_dir / f"{name}_truth.npz"
    from tools.render_clip import render_frames, write_video

    frames = render_frames([room(-CAMERA_HEIGHT, distance + WALL_BEHIND)], [Mesh(vertices[0], body.faces, colours)],
                           (([v], CAMERA_TO_BLENDER, np.zeros(3)) for v in vertices), width, height, k[0, 0],
                           shadows=True)
    write_video(frames, video_path, fps, width, height, num_frames)
    np.savez_compressed(
        truth_path,
        joints3d=world_to_camera(smpl_joints(heads, body.bone_labels)),
        joint_names=np.array(JOINT_NAMES),
        frame_ids=np.arange(num_frames),
        fps=np.array(float(fps)), width=np.array(width), height=np.array(height), intrinsics=k,
        body=np.array(f"anny {_anny_version()} (Anny(), skinning lbs), phenotype {PHENOTYPE}, "
                      f"stature {stature:.3f} m, {distance:.2f} m from the camera"),
        motion=np.array(MOTION_TEXT),
        joint_mapping=np.array("; ".join(
            f"{j}={b}" + (f"+{t:g}*({o}-{b})" if o else "") for j, (b, o, t) in SMPL_FROM_ANNY.items())),
    )
    return video_path, truth_path


def _anny_version() -> str:
    from importlib.metadata import version

    return version("anny")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="squat_march")
    parser.add_argument("--out", type=Path, default=Path("examples"))
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", default="480x640", help="WIDTHxHEIGHT in pixels")
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size must look like 480x640 (width x height), got {args.size!r}")
    if width < 64 or height < 64 or args.fps <= 0 or args.seconds <= 0:
        parser.error("--size must be at least 64x64, and --fps and --seconds positive")
    video, truth = make_clip(args.name, args.out, args.fps, args.seconds, width, height)
    print(f"wrote {video} ({video.stat().st_size / 1e6:.2f} MB) and {truth}")


if __name__ == "__main__":
    main()
