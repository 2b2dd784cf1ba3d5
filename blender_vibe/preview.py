"""Previews for people without Blender open: the imported skeletons drawn over the footage.

`write_preview` makes a contact sheet of several frames spread over the clip, `write_preview_video` the whole clip
(the scene's frame range) as a video; each person's skeleton carries their track id. The bone positions are
Blender's evaluated pose, projected through the scene camera at each frame (the one `footage.place_footage` set up,
or any camera that moves), so a preview checks the whole chain (backend camera, import, footage camera) against the
footage. Used by the headless command, which runs in the backend's environment (OpenCV available).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view

from smpl_rig.blender.action import owner_fcurves
from smpl_rig.skeleton import JOINT_NAMES

from .importer import FIRST_FRAME

SHEET_FRAMES = 6
SHEET_COLUMNS = 3
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}  # what OpenCV's bundled writers encode without extra libraries


def joint_pixels(context: bpy.types.Context, armature: bpy.types.Object) -> np.ndarray:
    """(24, 2) pixel positions of the armature's joints (bone heads) at the current frame, origin top-left."""
    scene = context.scene
    render = scene.render
    heads = [armature.matrix_world @ armature.pose.bones[name].head for name in JOINT_NAMES]
    ndc = np.array([tuple(world_to_camera_view(scene, scene.camera, head))[:2] for head in heads])
    return np.column_stack([ndc[:, 0] * render.resolution_x, (1.0 - ndc[:, 1]) * render.resolution_y])


def shown_on(armatures: list[bpy.types.Object], frames: np.ndarray) -> np.ndarray:
    """(P, N) bool: whether each armature is shown on each of `frames`, read from its `hide_viewport` keys."""
    return np.array([~_hidden_on(armature, frames) for armature in armatures]).reshape(len(armatures), len(frames))


def _hidden_on(obj: bpy.types.Object, frames: np.ndarray) -> np.ndarray:
    """(N,) bool: whether `obj` is hidden in the viewport on `frames`, read from its `hide_viewport` keys (a boolean
    holds each key's value until the next) without stepping the scene; its current state when not keyed."""
    curve = next((c for c in owner_fcurves(obj) if c.data_path == "hide_viewport" and not c.mute), None)
    if curve is None or not len(curve.keyframe_points):
        return np.full(len(frames), obj.hide_viewport)
    co = np.empty(2 * len(curve.keyframe_points), dtype=np.float32)
    curve.keyframe_points.foreach_get("co", co)
    last_key = np.maximum(np.searchsorted(co[0::2], frames, side="right") - 1, 0)
    return co[1::2][last_key] > 0.5


def sheet_frames(context: bpy.types.Context, armatures: list[bpy.types.Object], count: int = SHEET_FRAMES) -> list[int]:
    """Up to `count` scene frames spread evenly over the frames on which someone is shown, first and last included."""
    scene = context.scene
    frames = np.arange(scene.frame_start, scene.frame_end + 1)
    busy = frames[shown_on(armatures, frames).any(axis=0)]
    busy = busy if len(busy) else frames
    picks = np.round(np.linspace(0, len(busy) - 1, min(count, len(busy)))).astype(int)
    return sorted({int(frame) for frame in busy[picks]})


def write_preview(context: bpy.types.Context, armatures: list[bpy.types.Object], video: str | Path,
                  path: str | Path, count: int = SHEET_FRAMES) -> Path:
    """A contact sheet (PNG, JPEG...) of `count` frames spread over the clip, each with the skeletons shown on it and
    its frame number, `SHEET_COLUMNS` to a row."""
    import cv2

    from .drawing import contact_sheet, tile_scale

    wanted = sheet_frames(context, armatures, count)
    tiles = {}
    for frame, picture in _footage(video, wanted[0], wanted[-1], "No preview"):
        if frame in wanted:
            scale = tile_scale(picture.shape[1], picture.shape[0], min(SHEET_COLUMNS, len(wanted)))
            small = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            tiles[frame] = _drawn(context, armatures, small, frame, scale)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), contact_sheet([tiles[f] for f in wanted], SHEET_COLUMNS)):
        raise OSError(f"cannot write the preview image {path}")
    return path


def write_preview_video(context: bpy.types.Context, armatures: list[bpy.types.Object], video: str | Path,
                        path: str | Path) -> Path:
    """Every frame of the scene's range with the skeletons drawn, as .mp4 (MPEG-4 Part 2) or .avi (Motion JPEG)
    with OpenCV's writers, at the video's frame rate; written beside `path` and moved there when complete."""
    import cv2

    path = Path(path)
    codec = VIDEO_CODECS.get(path.suffix.lower())
    if codec is None:
        raise ValueError(f"The preview video must end in {' or '.join(VIDEO_CODECS)}; got {path.name}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    scene = context.scene
    fps = scene.render.fps / scene.render.fps_base  # the video's, as the import set it
    writer = None
    try:
        for frame, picture in _footage(video, scene.frame_start, scene.frame_end, "No preview video"):
            if writer is None:  # sized by the first frame, upright as the reader turns it
                writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*codec), fps, picture.shape[1::-1])
                if not writer.isOpened():
                    raise OSError(f"OpenCV cannot write the preview video {path.name}.")
            writer.write(_drawn(context, armatures, picture, frame, 1.0))
        writer.release()
        os.replace(partial, path)
    finally:
        if writer is not None:
            writer.release()
        partial.unlink(missing_ok=True)
    return path


def _footage(video: str | Path, first: int, last: int, what: str) -> Iterator[tuple[int, np.ndarray]]:
    """(scene frame, BGR picture) for the scene frames `first`..`last` of the video; a frame the video lacks is an
    OSError starting with `what`."""
    import cv2

    from backend.errors import BackendError
    from backend.video import VideoReader

    frame = first
    try:
        for index, rgb in VideoReader(video, start=first - FIRST_FRAME, end=last - FIRST_FRAME + 1):
            frame = index + FIRST_FRAME
            yield frame, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            frame += 1
    except BackendError as exc:
        raise OSError(f"{what}: {exc}") from exc
    if frame <= last:
        raise OSError(f"{what}: frame {frame - FIRST_FRAME} of {Path(video).name} cannot be decoded (the file is "
                      f"shorter than the motion, or cut short).")


def _drawn(context: bpy.types.Context, armatures: list[bpy.types.Object], picture: np.ndarray, frame: int,
           scale: float) -> np.ndarray:
    """`picture` (the video frame, shrunk by `scale`) with the skeletons shown on scene frame `frame`, each labelled
    with its track id, and the frame number; the scene is set to that frame."""
    from .drawing import draw_caption, draw_person, person_colour

    context.scene.frame_set(frame)
    shown = shown_on(armatures, np.array([frame]))[:, 0]
    for armature, visible in zip(armatures, shown, strict=True):
        if visible:
            track_id = int(armature.get("vibe_track_id", 0))
            draw_person(picture, joint_pixels(context, armature) * scale, person_colour(track_id),
                        str(track_id) if track_id else armature.name)
    draw_caption(picture, f"frame {frame}")
    return picture
