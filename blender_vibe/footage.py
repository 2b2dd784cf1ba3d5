"""Put the source video behind a camera that matches the backend's, so the animation can be checked against it."""

import math
from pathlib import Path

import bpy
import numpy as np

from smpl_rig.blender.action import new_action, write_curves
from smpl_rig.motion import World
from smpl_rig.rotations import make_quaternions_continuous, matrix_to_quaternion

from .importer import FIRST_FRAME

SENSOR_WIDTH_MM = 36.0


def lens_mm(width: int, height: int, sensor_width: float = SENSOR_WIDTH_MM) -> float:
    """Focal length of the backend's pinhole camera (f = image diagonal in pixels, see smpl_rig.camera).

    With sensor fit AUTO the sensor spans the larger image side, so f_mm / sensor = f_px / max(width, height).
    """
    return math.hypot(width, height) / max(width, height) * sensor_width


def place_footage(context: bpy.types.Context, video: str, width: int, height: int,
                  collection: bpy.types.Collection, world: World | None = None) -> bpy.types.Object:
    """A camera with the video as its background; it becomes the scene camera. Without a world it sits at the origin
    looking along +Y (the camera frame the people are in); with one, at the world's camera pose, keyed per frame
    when the camera turns.

    Video frame f shows at scene frame f + FIRST_FRAME, where the importer keys it. The clip loads first: when
    Blender cannot read the video, RuntimeError is raised before anything is created.
    """
    known = {clip.as_pointer() for clip in bpy.data.movieclips}
    clip = bpy.data.movieclips.load(video, check_existing=True)
    if clip.frame_duration < 1:
        if clip.as_pointer() not in known:
            bpy.data.movieclips.remove(clip)
        raise RuntimeError(f"Blender cannot play {Path(video).name}")
    clip.frame_start = FIRST_FRAME
    width, height = (width, height) if width > 0 and height > 0 else tuple(clip.size)
    name = f"{Path(video).stem} camera"
    data = bpy.data.cameras.new(name)
    data.sensor_fit = "AUTO"
    data.sensor_width = SENSOR_WIDTH_MM
    data.lens = lens_mm(width, height)
    data.show_background_images = True
    background = data.background_images.new()
    background.source = "MOVIE_CLIP"
    background.clip = clip
    background.alpha = 1.0
    background.display_depth = "BACK"
    background.frame_method = "FIT"
    camera = bpy.data.objects.new(name, data)
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)  # Blender cameras look down -Z: this turns it to +Y, z up
    if world is not None:
        _pose_camera(camera, world)
    collection.objects.link(camera)
    scene = context.scene
    scene.camera = camera
    scene.render.resolution_x, scene.render.resolution_y = int(width), int(height)
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    return camera


def blender_camera_rotation(world_from_camera: np.ndarray) -> np.ndarray:
    """A Blender camera's rotation (..., 3, 3) for camera rotations in VIBE's axes (x right, y down, z forward):
    Blender cameras look down their -z with +y up."""
    return np.asarray(world_from_camera) @ np.diag([1.0, -1.0, -1.0])


def _pose_camera(camera: bpy.types.Object, world: World) -> None:
    """Put the camera where the world says: one pose, or keys on every frame when it moves or turns."""
    quaternions = make_quaternions_continuous(matrix_to_quaternion(blender_camera_rotation(world.camera_rotation)))
    camera.rotation_mode = "QUATERNION"
    camera.rotation_quaternion = quaternions[0]
    camera.location = world.camera_position[0]
    if np.ptp(quaternions, axis=0).max() < 1e-6 and np.ptp(world.camera_position, axis=0).max() < 1e-6:
        return
    curves = [("rotation_quaternion", k, "Camera", quaternions[:, k]) for k in range(4)]
    curves += [("location", k, "Camera", world.camera_position[:, k]) for k in range(3)]
    write_curves(new_action(camera, f"{camera.name} motion"), camera, world.frame_ids + FIRST_FRAME, curves)
