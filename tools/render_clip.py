"""Blender glue for the example clips: a room (tiled floor, wall), a coloured body mesh, and a pinhole camera.

Rendering uses Workbench (studio light, shadows, cavity shading), which runs on CPUs in seconds per clip. The camera
sits at Blender's origin looking along +Y with +Z up, the convention of `smpl_rig.camera`: a point's coordinates in
VIBE's camera frame are `CAMERA_TO_BLENDER.T @ world`. Colours are per-face RGB in [0, 1].
"""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

SENSOR_WIDTH_MM = 36.0
FLOOR_TILE = 0.5
FLOOR_COLOURS = ((0.58, 0.46, 0.34), (0.50, 0.39, 0.28))
WALL_COLOUR, SKIRTING_COLOUR = (0.80, 0.78, 0.70), (0.35, 0.32, 0.30)
SKIRTING_HEIGHT = 0.12


def render_frames(faces: np.ndarray, face_colours: np.ndarray, vertices: np.ndarray, width: int, height: int,
                  focal_px: float, floor_z: float, wall_y: float) -> Iterator[np.ndarray]:
    """Render one BGR uint8 frame per row of `vertices` (N, V, 3), Blender world coordinates in metres."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    _set_up_render(scene, width, height)
    _add_camera(scene, width, focal_px)
    _add_mesh(scene, "Room", *_room(floor_z, wall_y))
    body = _add_mesh(scene, "Body", vertices[0], faces, face_colours, smooth=True)
    with tempfile.TemporaryDirectory(prefix="example-clip-") as tmp:
        still = str(Path(tmp) / "frame.png")
        for frame in vertices:
            body.data.vertices.foreach_set("co", np.ascontiguousarray(frame, dtype=np.float32).ravel())
            body.data.update()
            bpy.ops.render.render()
            bpy.data.images["Render Result"].save_render(still)  # unlike write_still, logs nothing per frame
            yield cv2.imread(still, cv2.IMREAD_COLOR)


def _set_up_render(scene, width: int, height: int) -> None:
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"
    scene.display.render_aa = "8"
    shading = scene.display.shading
    shading.light, shading.color_type = "STUDIO", "VERTEX"
    shading.show_shadows, shading.shadow_intensity = True, 0.45
    shading.show_cavity, shading.cavity_type = True, "WORLD"
    shading.show_specular_highlight = True
    scene.display.light_direction = (-0.4, 0.6, 0.7)  # view space: from the upper left, behind the camera


def _add_camera(scene, width: int, focal_px: float) -> None:
    import bpy

    data = bpy.data.cameras.new("Camera")
    data.sensor_fit, data.sensor_width = "HORIZONTAL", SENSOR_WIDTH_MM
    data.lens = focal_px * SENSOR_WIDTH_MM / width
    data.clip_start, data.clip_end = 0.05, 100.0
    camera = bpy.data.objects.new("Camera", data)
    camera.rotation_euler = (np.pi / 2, 0.0, 0.0)  # Blender cameras look along local -Z: this makes it +Y, up +Z
    scene.collection.objects.link(camera)
    scene.camera = camera


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


def _room(floor_z: float, wall_y: float, half_width: float = 6.0,
          wall_height: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A tiled floor from the camera to the wall, and the wall with a skirting board: vertices, quads, colours."""
    vertices, quads, colours = [], [], []

    def quad(corners: list[tuple[float, float, float]], colour: tuple[float, float, float]) -> None:
        quads.append(list(range(len(vertices), len(vertices) + 4)))
        vertices.extend(corners)
        colours.append(colour)

    xs = np.arange(-half_width, half_width, FLOOR_TILE)
    ys = np.arange(0.0, wall_y, FLOOR_TILE)
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            y1 = min(y + FLOOR_TILE, wall_y)
            quad([(x, y, floor_z), (x + FLOOR_TILE, y, floor_z), (x + FLOOR_TILE, y1, floor_z), (x, y1, floor_z)],
                 FLOOR_COLOURS[(i + j) % 2])
    skirting_top, top = floor_z + SKIRTING_HEIGHT, floor_z + wall_height
    for bottom, upper, colour in ((floor_z, skirting_top, SKIRTING_COLOUR), (skirting_top, top, WALL_COLOUR)):
        quad([(-half_width, wall_y, bottom), (half_width, wall_y, bottom), (half_width, wall_y, upper),
              (-half_width, wall_y, upper)], colour)  # counter-clockwise seen from the camera: faces it
    return np.array(vertices), np.array(quads), np.array(colours)
