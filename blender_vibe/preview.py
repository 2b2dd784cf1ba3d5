"""A preview picture for people without Blender open: the imported skeletons drawn over the video frame.

The bone positions are Blender's evaluated pose, projected through the scene camera that `footage.place_footage`
set up, so the picture checks the whole chain (backend camera, import, footage camera) against the footage.
Used by the headless command, which runs in the backend's environment (OpenCV available).
"""

from pathlib import Path

import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view

from smpl_rig.blender.action import owner_fcurves
from smpl_rig.skeleton import JOINT_NAMES, PARENTS

from .importer import FIRST_FRAME

COLOURS = ((0, 200, 255), (80, 255, 80), (255, 120, 60), (255, 80, 220), (240, 240, 40))  # BGR, one per person


def joint_pixels(context: bpy.types.Context, armature: bpy.types.Object) -> np.ndarray:
    """(24, 2) pixel positions of the armature's joints (bone heads) at the current frame, origin top-left."""
    scene = context.scene
    render = scene.render
    heads = [armature.matrix_world @ armature.pose.bones[name].head for name in JOINT_NAMES]
    ndc = np.array([tuple(world_to_camera_view(scene, scene.camera, head))[:2] for head in heads])
    return np.column_stack([ndc[:, 0] * render.resolution_x, (1.0 - ndc[:, 1]) * render.resolution_y])


def busiest_frame(armatures: list[bpy.types.Object], context: bpy.types.Context) -> int:
    """The scene frame, between start and end, where most of the armatures are visible (the middle one of those)."""
    scene = context.scene
    frames = np.arange(scene.frame_start, scene.frame_end + 1)
    counts = np.sum([~_hidden_on(armature, frames) for armature in armatures], axis=0)
    best = frames[counts == counts.max()]
    return int(best[len(best) // 2])


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


def write_preview(context: bpy.types.Context, armatures: list[bpy.types.Object], video: str | Path,
                  path: str | Path) -> Path:
    """Draw every visible armature over the matching video frame and save it as an image (PNG, JPEG...)."""
    import cv2

    from backend.errors import BackendError
    from backend.video import VideoReader

    frame = busiest_frame(armatures, context)
    context.scene.frame_set(frame)
    index = frame - FIRST_FRAME
    try:
        frames = list(VideoReader(video, start=index, end=index + 1))
    except BackendError as exc:
        raise OSError(f"No preview: {exc}") from exc
    if not frames:
        raise OSError(f"No preview: frame {index} of {Path(video).name} cannot be decoded (the file may be cut short).")
    picture = cv2.cvtColor(frames[0][1], cv2.COLOR_RGB2BGR)
    thickness = max(2, round(max(picture.shape[:2]) / 300))
    for k, armature in enumerate(a for a in armatures if not a.hide_viewport):
        colour = COLOURS[k % len(COLOURS)]
        points = np.round(joint_pixels(context, armature)).astype(int)
        for joint, parent in enumerate(PARENTS):
            if parent >= 0:
                cv2.line(picture, tuple(points[parent]), tuple(points[joint]), colour, thickness, cv2.LINE_AA)
        for point in points:
            cv2.circle(picture, tuple(point), thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), picture):
        raise OSError(f"cannot write the preview image {path}")
    return path
