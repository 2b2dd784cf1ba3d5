"""The floor at z = 0 under people placed in the world: a grid of 1 m squares around the camera and where everybody
goes, drawn as wire so the footage behind the camera stays visible, left out of renders and of selection."""

import bpy
import numpy as np

from smpl_rig.motion import World

MARGIN = 1.0  # metres of floor beyond the farthest point anybody reaches


def create_floor(collection: bpy.types.Collection, roots: list[np.ndarray], world: World) -> bpy.types.Object:
    """A mesh object "Floor" in `collection`: 1 m squares covering the people's pelvis paths (each (N, 3), world
    frame) and the ground under the camera, plus MARGIN."""
    xy = np.concatenate([np.asarray(r, dtype=np.float64)[:, :2] for r in roots] + [world.camera_position[:, :2]])
    low = np.floor(xy.min(axis=0) - MARGIN)
    high = np.ceil(xy.max(axis=0) + MARGIN)
    nx, ny = (int(n) for n in high - low)
    grid_x, grid_y = np.meshgrid(low[0] + np.arange(nx + 1), low[1] + np.arange(ny + 1), indexing="ij")
    vertices = np.column_stack([grid_x.ravel(), grid_y.ravel(), np.zeros(grid_x.size)])
    corner = (np.arange(nx)[:, None] * (ny + 1) + np.arange(ny)[None, :]).ravel()
    faces = np.column_stack([corner, corner + ny + 1, corner + ny + 2, corner + 1])
    mesh = bpy.data.meshes.new("Floor")
    mesh.from_pydata(vertices.tolist(), [], faces.tolist())
    mesh.update()
    floor = bpy.data.objects.new("Floor", mesh)
    floor.display_type = "WIRE"
    floor.hide_render = True
    floor.hide_select = True
    collection.objects.link(floor)
    return floor

