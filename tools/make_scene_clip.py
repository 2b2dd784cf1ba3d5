"""Render scene clips of people walking in a paved square, with their ground truth.

    .venv/bin/python -m tools.make_scene_clip NAME [NAME ...] [--out examples] [--seconds S] [--scale F]
                                              [--no-render]
    .venv/bin/python -m tools.make_scene_clip --list

NAME is a scene of tools/scene_clips.py. Each person is the open Anny body model (tools/anny_body.py) with their own
phenotype and colours, walking by the procedural gait of tools/gait.py (planted feet); the world is tools/world.py,
rendered with Blender Workbench (tools/render_clip.py) from a camera with a pose per frame. `--seconds` shortens a
clip and `--scale` shrinks its picture (the truth follows), for quick looks; `--no-render` only prints the truth's
figures (people's sizes, visibility, crossings) to try a layout in a minute.

Writes OUT/NAME.mp4 (H.264 through ffmpeg when it is on PATH, else OpenCV's MPEG-4 part 2) and OUT/NAME_truth.npz
(documented in examples/README.md; read it with tools.truth.load_truth).
"""

import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smpl_rig.skeleton import JOINT_NAMES
from tools.anny_body import GARMENTS, SMPL_FROM_ANNY, AnnyBody, phenotype_for_stature, smpl_joints
from tools.gait import SIDES, walk
from tools.scene import Person, Scene, camera_angles, camera_poses, project, world_to_camera
from tools.visibility import boxes_and_heights, visible_fraction
from tools.world import SHADOW_COLOUR, Box, Mesh, World, floor_shadow, square_world

SMPL_FROM_ANNY_ROOT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # SMPL body axes in Anny's
VISIBILITY_STRIDE = 4  # every 4th vertex is enough to measure how much of a body is seen
SKATE_LIMIT = 1e-4  # metres per frame: a planted ankle that moves more means the gait is broken


@dataclass
class Track:
    """One person animated: the mesh (vertices per frame, world), SMPL joints, pelvis orientation, contacts."""

    person: Person
    phenotype: dict[str, float]
    stature: float
    mesh: Mesh  # rest vertices, faces, colours
    vertices: np.ndarray  # (F, V, 3) float32
    joints: np.ndarray  # (F, 24, 3)
    root_rotation: np.ndarray  # (F, 3, 3) SMPL body axes (x left, y up, z forward) in the world
    contacts: np.ndarray  # (F, 2)
    steps: int


def animate(person: Person, fps: float, num_frames: int) -> Track:
    """Pose one person along their plan for the whole clip."""
    phenotype = phenotype_for_stature(person.stature, gender=person.gender, weight=person.weight,
                                      muscle=person.muscle, age=person.age)
    body = AnnyBody(phenotype)
    rest = body.rest_body()
    motion = walk(rest, person.plan, fps, num_frames, phase=person.gait_phase)
    vertices, heads = body.pose(motion.rotations)
    vertices, heads = vertices + motion.root[:, None], heads + motion.root[:, None]
    ankles = heads[:, [body.bone_labels.index(f"foot.{side}") for side in SIDES]]
    planted = motion.contacts[1:] & motion.contacts[:-1]
    skate = np.linalg.norm(np.diff(ankles, axis=0), axis=-1)[planted]
    if len(skate) and skate.max() > SKATE_LIMIT:
        raise RuntimeError(f"person {person.id}: a planted ankle moved {skate.max() * 1000:.2f} mm in one frame")
    colours = person.garment_colours()
    face_colours = np.array([colours[g] for g in GARMENTS])[body.garments()]
    return Track(person=person, phenotype=phenotype, stature=rest.stature,
                 mesh=Mesh(body.rest()[0], body.faces, face_colours), vertices=vertices.astype(np.float32),
                 joints=smpl_joints(heads, body.bone_labels), root_rotation=motion.rotations["root"] @
                 SMPL_FROM_ANNY_ROOT, contacts=motion.contacts, steps=len(motion.steps))


def scene_truth(scene: Scene, tracks: list[Track], rotation: np.ndarray, position: np.ndarray,
                occluders: list[Box]) -> dict[str, np.ndarray]:
    """The truth arrays of examples/README.md for the animated people and camera poses."""
    k = scene.intrinsics()
    num_frames, num_people = len(rotation), len(tracks)
    joints_world = np.stack([t.joints for t in tracks], axis=1)
    boxes, heights = np.full((num_frames, num_people, 4), np.nan), np.full((num_frames, num_people), np.nan)
    visible = np.zeros((num_frames, num_people))
    for f in range(num_frames):
        world = np.stack([t.vertices[f, ::VISIBILITY_STRIDE] for t in tracks]).astype(np.float64)
        cam = world_to_camera(world[None], rotation[f:f + 1], position[f:f + 1])[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            pixels = project(cam, k)
        boxes[f], heights[f] = boxes_and_heights(pixels, cam[..., 2], scene.width, scene.height)
        visible[f] = visible_fraction(pixels, cam[..., 2], world, position[f], occluders, scene.width, scene.height)
    return {
        "fps": np.array(float(scene.fps)), "width": np.array(scene.width), "height": np.array(scene.height),
        "intrinsics": k, "frame_ids": np.arange(num_frames),
        "person_ids": np.array([t.person.id for t in tracks]), "joint_names": np.array(JOINT_NAMES),
        "camera_rotation": rotation, "camera_position": position,
        "joints_world": joints_world, "joints3d": world_to_camera(joints_world, rotation, position),
        "root_rotation_world": np.stack([t.root_rotation for t in tracks], axis=1),
        "contacts": np.stack([t.contacts for t in tracks], axis=1),
        "boxes": boxes, "visible": visible, "height_px": heights,
        "stature": np.array([t.stature for t in tracks]),
    }


def describe(scene: Scene, tracks: list[Track], rotation: np.ndarray, position: np.ndarray) -> dict[str, np.ndarray]:
    """The truth file's text fields: how the clip was made."""
    yaw, pitch, roll = np.degrees(camera_angles(rotation))
    people = [{"id": t.person.id, "stature_m": round(t.stature, 3), "anny_phenotype": t.phenotype,
               "plan": dataclasses.asdict(t.person.plan), "colours": t.person.garment_colours(), "steps": t.steps}
              for t in tracks]
    camera = (f"tripod at {position[0].round(2).tolist()} m; yaw {yaw.min():.1f} to {yaw.max():.1f}, pitch (down) "
              f"{pitch.min():.1f} to {pitch.max():.1f}, roll {roll.min():.1f} to {roll.max():.1f} degrees; "
              f"f = image diagonal; spec {dataclasses.asdict(scene.camera)}")
    return {
        "scene": np.array(f"{scene.name}: {scene.description}"),
        "people": np.array(json.dumps(people)),
        "camera": np.array(camera),
        "world": np.array(f"tools/world.py square_world(seed={scene.seed}, half_size={scene.half_size:g}), props "
                          + json.dumps([dataclasses.asdict(p) for p in scene.props])),
        "body": np.array(f"anny {_anny_version()} (Anny(), skinning lbs); gait tools/gait.py"),
        "joint_mapping": np.array("; ".join(
            f"{j}={b}" + (f"+{t:g}*({o}-{b})" if o else "") for j, (b, o, t) in SMPL_FROM_ANNY.items())),
    }


def check_clear_of_props(track: Track, occluders: list[Box], margin: float = 0.25) -> None:
    """Raise if the person's pelvis comes within `margin` metres of a prop's footprint (walking through it)."""
    pelvis = track.joints[:, JOINT_NAMES.index("Pelvis")]
    for box in occluders:
        c, s = np.cos(box.yaw), np.sin(box.yaw)
        local = (pelvis[:, :2] - box.centre[:2]) @ np.array([[c, -s], [s, c]])
        inside = (np.abs(local) < box.half[:2] + margin).all(axis=1)
        if inside.any():
            raise ValueError(f"person {track.person.id} walks into the prop at {box.centre[:2].round(2).tolist()} "
                             f"(frame {int(np.argmax(inside))}); change their plan or move the prop")


def check_apart(tracks: list[Track], distance: float = 0.6) -> None:
    """Raise if two people's pelvises come closer than `distance` metres on the floor (walking into each other)."""
    pelvis = np.stack([t.joints[:, JOINT_NAMES.index("Pelvis"), :2] for t in tracks], axis=1)
    for a in range(len(tracks)):
        for b in range(a + 1, len(tracks)):
            gap = np.linalg.norm(pelvis[:, a] - pelvis[:, b], axis=1)
            if gap.min() < distance:
                raise ValueError(f"people {tracks[a].person.id} and {tracks[b].person.id} come {gap.min():.2f} m "
                                 f"apart at frame {int(gap.argmin())}; change their plans (a Stand delays a start)")


def animate_scene(scene: Scene) -> tuple[list[Track], np.ndarray, np.ndarray, World, dict[str, np.ndarray]]:
    """Everything but the pictures: the people's tracks, the camera poses, the world and the truth arrays."""
    tracks = [animate(person, scene.fps, scene.num_frames) for person in scene.people]
    times = np.arange(scene.num_frames) / scene.fps
    pelvis = {t.person.id: t.joints[:, JOINT_NAMES.index("Pelvis")] for t in tracks}
    rotation, position = camera_poses(scene.camera, times, scene.fps, pelvis)
    world = square_world(list(scene.props), seed=scene.seed, half_size=scene.half_size)
    for track in tracks:
        check_clear_of_props(track, world.occluders)
    check_apart(tracks)
    truth = scene_truth(scene, tracks, rotation, position, world.occluders)
    truth.update(describe(scene, tracks, rotation, position))
    return tracks, rotation, position, world, truth


def make_clip(scene: Scene, out_dir: Path) -> tuple[Path, Path]:
    """Animate, render and write the video and its truth file; returns their paths."""
    started = time.monotonic()
    tracks, rotation, position, world, truth = animate_scene(scene)
    print(f"{scene.name}: {len(tracks)} people animated, truth computed in {time.monotonic() - started:.0f} s",
          file=sys.stderr)

    from tools.render_clip import render_frames, write_video

    shadows = [Mesh(t.mesh.vertices, t.mesh.faces, np.tile(SHADOW_COLOUR, (len(t.mesh.faces), 1))) for t in tracks]
    frames = render_frames(world.meshes, [t.mesh for t in tracks] + shadows,
                           (([t.vertices[f] for t in tracks] + [floor_shadow(t.vertices[f]) for t in tracks],
                             rotation[f], position[f]) for f in range(scene.num_frames)),
                           scene.width, scene.height, float(truth["intrinsics"][0, 0]), anti_aliasing="FXAA")
    out_dir.mkdir(parents=True, exist_ok=True)
    video_path, truth_path = out_dir / f"{scene.name}.mp4", out_dir / f"{scene.name}_truth.npz"
    partial = out_dir / f".{scene.name}_truth.partial.npz"
    try:  # the truth is replaced only once its video is complete
        np.savez_compressed(partial, **truth)
        write_video(frames, video_path, scene.fps, scene.width, scene.height, scene.num_frames)
        os.replace(partial, truth_path)
    finally:
        partial.unlink(missing_ok=True)
    print(f"{scene.name}: rendered in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return video_path, truth_path


def _anny_version() -> str:
    from importlib.metadata import version

    return version("anny")


def main(argv: list[str] | None = None) -> None:
    from tools.scene_clips import SCENES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("--out", type=Path, default=Path("examples"))
    parser.add_argument("--seconds", type=float, help="render only the first S seconds")
    parser.add_argument("--scale", type=float, default=1.0, help="scale the picture size (0.25-1)")
    parser.add_argument("--list", action="store_true", help="list the scenes and exit")
    parser.add_argument("--no-render", action="store_true",
                        help="only animate and print the truth's figures (sizes, visibility, crossings)")
    args = parser.parse_args(argv)
    if args.list or not args.names:
        for name, scene in SCENES.items():
            print(f"{name}: {scene.width}x{scene.height}, {scene.seconds:g} s, {len(scene.people)} people - "
                  f"{scene.description}")
        return
    unknown = [n for n in args.names if n not in SCENES]
    if unknown:
        parser.error(f"unknown scene {', '.join(unknown)}; --list shows them")
    if not 0.1 <= args.scale <= 1.0 or (args.seconds is not None and args.seconds <= 0):
        parser.error("--scale must be within 0.1-1 and --seconds positive")
    for name in args.names:
        scene = SCENES[name]
        scene = dataclasses.replace(scene, width=2 * round(scene.width * args.scale / 2),
                                    height=2 * round(scene.height * args.scale / 2),
                                    seconds=min(scene.seconds, args.seconds or scene.seconds))
        if args.no_render:
            from tools.check_truth import truth_checks
            from tools.truth import truth_from_arrays

            lines = truth_checks(truth_from_arrays(animate_scene(scene)[-1]))
            print(f"{name}:\n  " + "\n  ".join(lines))
            continue
        video, truth = make_clip(scene, args.out)
        print(f"wrote {video} ({video.stat().st_size / 1e6:.2f} MB) and {truth}")


if __name__ == "__main__":
    main()
