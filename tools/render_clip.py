"""Blender glue for the rendered clips: static meshes, meshes that change every frame (people, their shadows), and a
pinhole camera with a pose per frame.

Rendering uses Workbench (studio light fixed in the world, cavity shading, anti-aliasing), which runs on CPUs in
about a second per frame. Its own shadows are optional: on CPUs they cost several seconds per frame and
body, so the scene clips draw people's shadows as meshes instead. Colours are per-face RGB in [0, 1].
Camera poses are given as VIBE's camera frame in
the world: `rotation` (3, 3) world-from-camera with the camera's x right, y down, z forward, and `position` (3,);
a Blender camera looks along its local -Z with +Y up, hence `BLENDER_CAMERA_FROM_VIBE`.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from tools.world import SKY, Mesh

SENSOR_WIDTH_MM = 36.0
BLENDER_CAMERA_FROM_VIBE = np.diag([1.0, -1.0, -1.0])


def render_frames(static: list[Mesh], moving: list[Mesh],
                  frames: Iterable[tuple[list[np.ndarray | None], np.ndarray, np.ndarray]],
                  width: int, height: int, focal_px: float, sky: tuple[float, float, float] = SKY,
                  shadows: bool = False, anti_aliasing: str = "8") -> Iterator[np.ndarray]:
    """Render one BGR uint8 image per item of `frames`: (vertices (V, 3) of each of the `moving` meshes, or None
    where one is absent, camera rotation (3, 3), camera position (3,)). `shadows`: Workbench's own shadows;
    `anti_aliasing`: Workbench's samples ("5", "8", ...) or "FXAA" (one sample, filtered: several times faster)."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    _set_up_render(scene, width, height, sky, shadows, anti_aliasing)
    camera = _add_camera(scene, width, focal_px)
    for i, mesh in enumerate(static):
        _add_mesh(scene, f"World{i}", mesh.vertices, mesh.faces, mesh.colours)
    objects = [_add_mesh(scene, f"Moving{i}", mesh.vertices, mesh.faces, mesh.colours, smooth=True)
               for i, mesh in enumerate(moving)]
    with tempfile.TemporaryDirectory(prefix="clip-") as tmp:
        still = str(Path(tmp) / "frame.png")
        for vertices, rotation, position in frames:
            for obj, points in zip(objects, vertices, strict=True):
                obj.hide_render = points is None
                if points is not None:
                    obj.data.vertices.foreach_set("co", np.ascontiguousarray(points, dtype=np.float32).ravel())
                    obj.data.update()
            pose = np.eye(4)
            pose[:3, :3], pose[:3, 3] = np.asarray(rotation) @ BLENDER_CAMERA_FROM_VIBE, position
            camera.matrix_world = pose.T.tolist()  # mathutils reads rows; numpy's rows are the transpose's columns
            bpy.ops.render.render()
            bpy.data.images["Render Result"].save_render(still)  # unlike write_still, logs nothing per frame
            yield cv2.imread(still, cv2.IMREAD_COLOR)


def _set_up_render(scene, width: int, height: int, sky: tuple[float, float, float], shadows: bool,
                   anti_aliasing: str) -> None:
    import bpy

    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"
    scene.display.render_aa = anti_aliasing
    scene.world = bpy.data.worlds.new("Sky")
    scene.world.color = sky
    shading = scene.display.shading
    shading.light, shading.color_type = "STUDIO", "VERTEX"
    shading.use_world_space_lighting = True  # light and shadows stay put when the camera turns
    shading.show_shadows, shading.shadow_intensity = shadows, 0.45
    shading.show_cavity, shading.cavity_type = True, "WORLD"
    shading.show_specular_highlight = True
    scene.display.light_direction = (-0.4, 0.6, 0.7)


def _add_camera(scene, width: int, focal_px: float):
    import bpy

    data = bpy.data.cameras.new("Camera")
    data.sensor_fit, data.sensor_width = "HORIZONTAL", SENSOR_WIDTH_MM
    data.lens = focal_px * SENSOR_WIDTH_MM / width
    data.clip_start, data.clip_end = 0.1, 200.0
    camera = bpy.data.objects.new("Camera", data)
    scene.collection.objects.link(camera)
    scene.camera = camera
    return camera


def _add_mesh(scene, name: str, vertices: np.ndarray, faces: np.ndarray, face_colours: np.ndarray,
              smooth: bool = False):
    import bpy

    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(np.asarray(vertices, dtype=np.float64).tolist(), [], np.asarray(faces).tolist())
    colours = mesh.color_attributes.new("Colour", "FLOAT_COLOR", "CORNER")
    corner_colours = np.repeat(np.asarray(face_colours, dtype=np.float32), [len(f) for f in faces], axis=0)
    rgba = np.concatenate([corner_colours, np.ones((len(corner_colours), 1), np.float32)], axis=1)
    colours.data.foreach_set("color", rgba.ravel())
    mesh.color_attributes.active_color = colours
    mesh.polygons.foreach_set("use_smooth", np.full(len(faces), smooth))
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    return obj


def write_video(frames, path: Path, fps: float, width: int, height: int, num_frames: int) -> None:
    """Stream BGR frames into an mp4 file (H.264 by ffmpeg if present, else OpenCV's mp4v), written under a
    temporary name and renamed when complete."""
    partial = path.with_name(f".{path.stem}.partial.mp4")
    ffmpeg = shutil.which("ffmpeg")
    try:
        if ffmpeg:
            encoder = subprocess.Popen(
                [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
                 "-r", f"{fps:g}", "-i", "-", "-c:v", "libx264", "-preset", "slow", "-crf", "23", "-pix_fmt",
                 "yuv420p", "-movflags", "+faststart", str(partial)], stdin=subprocess.PIPE)
            write, close = encoder.stdin.write, encoder.stdin.close
        else:
            writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
            if not writer.isOpened():
                raise SystemExit(f"OpenCV cannot write mp4v video to {partial}; check that opencv-python is installed")
            write, close = writer.write, writer.release
        try:
            for i, frame in enumerate(frames):
                write(np.ascontiguousarray(frame).tobytes() if ffmpeg else frame)
                print(f"\rrendered {i + 1}/{num_frames}", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
        finally:
            close()
        if ffmpeg and encoder.wait() != 0:
            raise SystemExit(f"ffmpeg failed to encode {path} (exit code {encoder.returncode})")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
