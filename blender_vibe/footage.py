"""Put the source video behind a camera that matches the backend's, so the animation can be checked against it."""

import math
from pathlib import Path

import bpy

from .importer import FIRST_FRAME

SENSOR_WIDTH_MM = 36.0


def lens_mm(width: int, height: int, sensor_width: float = SENSOR_WIDTH_MM) -> float:
    """Focal length of the backend's pinhole camera (f = image diagonal in pixels, see smpl_rig.camera).

    With sensor fit AUTO the sensor spans the larger image side, so f_mm / sensor = f_px / max(width, height).
    """
    return math.hypot(width, height) / max(width, height) * sensor_width


def place_footage(context: bpy.types.Context, video: str, width: int, height: int,
                  collection: bpy.types.Collection) -> bpy.types.Object:
    """A camera at the origin looking along +Y with the video as its background; it becomes the scene camera.

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
    collection.objects.link(camera)
    scene = context.scene
    scene.camera = camera
    scene.render.resolution_x, scene.render.resolution_y = int(width), int(height)
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    return camera
