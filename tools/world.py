"""The world of the scene clips: a paved square with props and building facades around it (numpy, no bpy).

z is up and the floor is z = 0. Everything is coloured per face (Workbench renders vertex colours), and everything
is irregular on purpose: slabs of random sizes and shades, windows, props of varied shapes, so that a camera-pan
estimator finds background features to track and a floor estimator sees a ground plane with texture.

Props are axis-aligned boxes in their own frame, turned by a yaw about the vertical: the same boxes serve as the
occluders of the truth's visibility (`Box`).
"""

from dataclasses import dataclass, field

import numpy as np

GROUT_DEPTH = 0.01  # metres below the slabs: the joints between them show as dark lines
JOINT_WIDTH = 0.012
PAVING_PALETTE = ((0.62, 0.60, 0.56), (0.55, 0.52, 0.47), (0.68, 0.64, 0.55), (0.50, 0.47, 0.44),
                  (0.60, 0.50, 0.42), (0.45, 0.45, 0.46), (0.72, 0.70, 0.66))
PLAZA_PALETTE = ((0.75, 0.72, 0.66), (0.40, 0.36, 0.34), (0.66, 0.48, 0.38), (0.58, 0.60, 0.62))
FACADE_PALETTE = ((0.85, 0.80, 0.68), (0.72, 0.55, 0.45), (0.80, 0.82, 0.84), (0.62, 0.66, 0.58),
                  (0.90, 0.86, 0.78), (0.58, 0.42, 0.36), (0.70, 0.70, 0.62))
SKY = (0.74, 0.80, 0.88)
SUN = np.array([0.35, 0.55, -1.0]) / np.linalg.norm([0.35, 0.55, -1.0])  # the direction sunlight travels
SHADOW_COLOUR, SHADOW_HEIGHT = (0.16, 0.16, 0.17), 0.004


@dataclass
class Mesh:
    """Vertices (V, 3), faces (K, n) vertex indices counter-clockwise seen from outside, colours (K, 3) RGB 0-1."""

    vertices: np.ndarray
    faces: np.ndarray
    colours: np.ndarray


@dataclass
class Box:
    """A solid box: centre (3,), half extents (3,) along its own axes, turned by `yaw` radians about z."""

    centre: np.ndarray
    half: np.ndarray
    yaw: float = 0.0


@dataclass
class Prop:
    """A static object on the floor: kind in PROP_KINDS, position (metres) and yaw (degrees)."""

    kind: str
    x: float
    y: float
    yaw_deg: float = 0.0


@dataclass
class World:
    """The square's geometry: meshes to render and the boxes that hide people behind them."""

    meshes: list[Mesh] = field(default_factory=list)
    occluders: list[Box] = field(default_factory=list)


class _Builder:
    """Collects quads with colours into one mesh."""

    def __init__(self) -> None:
        self.vertices: list[np.ndarray] = []
        self.colours: list[tuple[float, float, float]] = []

    def quad(self, corners: np.ndarray, colour) -> None:
        self.vertices.append(np.asarray(corners, dtype=np.float64))
        self.colours.append(tuple(colour))

    def box(self, box: Box, colour, rng: np.random.Generator | None = None) -> None:
        """The five visible faces of a box standing on something (no bottom), each face shaded a little apart."""
        sx, sy, sz = box.half
        c, s = np.cos(box.yaw), np.sin(box.yaw)
        turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        corner = np.array([[x, y, z] for z in (-sz, sz) for y in (-sy, sy) for x in (-sx, sx)]) @ turn.T + box.centre
        for face in ((0, 1, 5, 4), (1, 3, 7, 5), (3, 2, 6, 7), (2, 0, 4, 6), (4, 5, 7, 6)):  # -y, +x, +y, -x, top
            shade = 1.0 if rng is None else rng.uniform(0.9, 1.05)
            self.quad(corner[list(face)], np.clip(np.asarray(colour) * shade, 0.0, 1.0))

    def mesh(self) -> Mesh:
        vertices = np.concatenate(self.vertices)
        return Mesh(vertices, np.arange(len(vertices)).reshape(-1, 4), np.array(self.colours))


def square_world(props: list[Prop], seed: int = 0, half_size: float = 22.0) -> World:
    """A paved square of 2 * half_size metres a side (centred on the origin) with facades along its edges."""
    rng = np.random.default_rng(seed)
    world = World()
    world.meshes.append(_paving(rng, half_size))
    facades = _Builder()
    for side in range(4):
        _facade_row(facades, rng, half_size, side)
    world.meshes.append(facades.mesh())
    things = _Builder()
    for prop in props:
        for box, colour in _prop_boxes(prop, rng):
            things.box(box, colour, rng)
            world.occluders.append(box)
    if props:
        world.meshes.append(things.mesh())
    return world


def _paving(rng: np.random.Generator, half: float) -> Mesh:
    """Grout under everything; a running bond of random slabs, and a plaza of random square tiles in the middle."""
    floor = _Builder()
    floor.quad([[-half, -half, -GROUT_DEPTH], [half, -half, -GROUT_DEPTH], [half, half, -GROUT_DEPTH],
                [-half, half, -GROUT_DEPTH]], (0.22, 0.21, 0.20))
    plaza = 7.0

    def slab(x0: float, y0: float, x1: float, y1: float, palette) -> None:
        g = JOINT_WIDTH / 2
        colour = np.asarray(palette[rng.integers(len(palette))]) * rng.uniform(0.9, 1.08)
        floor.quad([[x0 + g, y0 + g, 0.0], [x1 - g, y0 + g, 0.0], [x1 - g, y1 - g, 0.0], [x0 + g, y1 - g, 0.0]],
                   np.clip(colour, 0.0, 1.0))

    y = -half
    while y < half:  # rows of random widths, each cut into slabs of random lengths, skipping the plaza
        y1 = min(y + rng.uniform(0.35, 0.8), half)
        for edge in (-plaza, plaza):  # rows end at the plaza's edges, so no slab overlaps a plaza tile
            if y < edge < y1:
                y1 = edge
        x = -half + rng.uniform(-0.8, 0.0)
        while x < half:
            x1 = x + rng.uniform(0.45, 1.5)
            a, b = max(x, -half), min(x1, half)
            inside = max(abs(y), abs(y1)) <= plaza
            for lo, hi in ([(a, min(b, -plaza)), (max(a, plaza), b)] if inside else [(a, b)]):
                if hi - lo > 0.05:
                    slab(lo, y, hi, y1, PAVING_PALETTE)
            x = x1
        y = y1
    edges = np.linspace(-plaza, plaza, 23)
    for x0, x1 in zip(edges[:-1], edges[1:], strict=True):
        for y0, y1 in zip(edges[:-1], edges[1:], strict=True):
            slab(x0, y0, x1, y1, PLAZA_PALETTE)
    return floor.mesh()


def _facade_row(builder: _Builder, rng: np.random.Generator, half: float, side: int) -> None:
    """Buildings of random widths, heights and colours along one edge, facing the square, with windows and doors."""
    angle = side * np.pi / 2  # side 0: the edge at y = +half, seen from the square; the others turned about z
    c, s = np.cos(angle), np.sin(angle)

    def place(u: float, z: float, inset: float = 0.0) -> np.ndarray:  # u along the edge, inset towards the square
        return np.array([c * u - s * (half - inset), s * u + c * (half - inset), z])

    def rect(u0: float, u1: float, z0: float, z1: float, colour, inset: float) -> None:
        builder.quad([place(u1, z0, inset), place(u0, z0, inset), place(u0, z1, inset), place(u1, z1, inset)],
                     colour)

    u = -half
    while u < half:
        u1 = min(u + rng.uniform(5.0, 12.0), half)
        top = rng.uniform(7.0, 16.0)
        wall = np.asarray(FACADE_PALETTE[rng.integers(len(FACADE_PALETTE))]) * rng.uniform(0.9, 1.05)
        rect(u, u1, 0.0, top, np.clip(wall, 0, 1), 0.0)
        rect(u, u1, top - 0.5, top, np.clip(wall * 0.7, 0, 1), 0.03)  # cornice
        rect(u, u1, 0.0, 3.2, (0.25, 0.27, 0.30), 0.03)  # shop front glass
        for door in rng.uniform(u + 0.5, max(u + 0.5, u1 - 1.7), size=rng.integers(1, 3)):
            rect(door, door + 1.2, 0.0, 2.4, np.clip(wall * 0.45, 0, 1), 0.05)
        window = np.clip(np.asarray((0.30, 0.35, 0.42)) * rng.uniform(0.8, 1.2), 0, 1)
        for z in np.arange(4.2, top - 1.8, 3.0):
            for x in np.arange(u + 0.8, u1 - 1.6, rng.uniform(2.0, 2.8)):
                rect(x, x + 1.1, z, z + 1.5, window, 0.03)
        u = u1


PROP_KINDS = ("pillar", "crate", "bench", "planter", "lamp", "kiosk")


def _prop_boxes(prop: Prop, rng: np.random.Generator) -> list[tuple[Box, tuple[float, float, float]]]:
    """The boxes (in the world) and colours that make up one prop."""
    if prop.kind not in PROP_KINDS:
        raise ValueError(f"unknown prop kind {prop.kind!r}; choose one of {', '.join(PROP_KINDS)}")
    yaw = np.radians(prop.yaw_deg)
    c, s = np.cos(yaw), np.sin(yaw)

    def part(x: float, y: float, z0: float, sx: float, sy: float, sz: float, colour) -> tuple[Box, tuple]:
        centre = np.array([prop.x + c * x - s * y, prop.y + s * x + c * y, z0 + sz / 2])
        return Box(centre, np.array([sx, sy, sz]) / 2, yaw), colour

    if prop.kind == "pillar":
        return [part(0, 0, 0, 0.75, 0.75, 0.35, (0.50, 0.48, 0.45)), part(0, 0, 0.35, 0.5, 0.5, 3.4, (0.78, 0.75, 0.7))]
    if prop.kind == "crate":
        w, d, h = rng.uniform(0.5, 1.0), rng.uniform(0.5, 0.9), rng.uniform(0.4, 0.8)
        parts = [part(0, 0, 0, w, d, h, (0.62, 0.45, 0.25))]
        if rng.random() < 0.5:
            parts.append(part(0.05, -0.03, h, w * 0.7, d * 0.7, h * 0.7, (0.55, 0.40, 0.22)))
        return parts
    if prop.kind == "bench":
        wood, iron = (0.55, 0.36, 0.20), (0.18, 0.18, 0.20)
        return [part(-0.8, 0, 0, 0.08, 0.45, 0.43, iron), part(0.8, 0, 0, 0.08, 0.45, 0.43, iron),
                part(0, 0, 0.43, 1.9, 0.48, 0.06, wood), part(0, 0.22, 0.49, 1.9, 0.05, 0.42, wood)]
    if prop.kind == "planter":
        return [part(0, 0, 0, 1.1, 1.1, 0.55, (0.42, 0.40, 0.38)),
                part(0, 0, 0.55, 0.95, 0.95, 0.55, (0.20, 0.42, 0.18))]
    if prop.kind == "lamp":
        return [part(0, 0, 0, 0.14, 0.14, 4.0, (0.15, 0.16, 0.18)), part(0, 0, 4.0, 0.45, 0.45, 0.18, (0.9, 0.9, 0.8))]
    stripes = (0.75, 0.20, 0.15) if rng.random() < 0.5 else (0.15, 0.40, 0.65)  # kiosk
    return [part(0, 0, 0, 2.4, 1.8, 2.3, (0.85, 0.83, 0.78)), part(0, 0, 2.3, 2.7, 2.1, 0.35, stripes)]


def room(floor_z: float, wall_y: float, half_width: float = 6.0, wall_height: float = 4.0,
         tile: float = 0.5) -> Mesh:
    """The example clip's room: a chequered floor at `floor_z` from y = 0 to the wall at `wall_y`, and the wall with
    a skirting board."""
    floor_colours = ((0.58, 0.46, 0.34), (0.50, 0.39, 0.28))
    wall_colour, skirting_colour, skirting_height = (0.80, 0.78, 0.70), (0.35, 0.32, 0.30), 0.12
    builder = _Builder()
    for i, x in enumerate(np.arange(-half_width, half_width, tile)):
        for j, y in enumerate(np.arange(0.0, wall_y, tile)):
            y1 = min(y + tile, wall_y)
            builder.quad([(x, y, floor_z), (x + tile, y, floor_z), (x + tile, y1, floor_z), (x, y1, floor_z)],
                         floor_colours[(i + j) % 2])
    skirting_top, top = floor_z + skirting_height, floor_z + wall_height
    for bottom, upper, colour in ((floor_z, skirting_top, skirting_colour), (skirting_top, top, wall_colour)):
        builder.quad([(-half_width, wall_y, bottom), (half_width, wall_y, bottom), (half_width, wall_y, upper),
                      (-half_width, wall_y, upper)], colour)  # counter-clockwise seen from the camera: faces it
    return builder.mesh()


def floor_shadow(vertices: np.ndarray) -> np.ndarray:
    """A mesh's hard shadow on the floor: its vertices (..., V, 3) moved along the sunlight onto a plane just above
    z = 0 (drawn with the mesh's faces in SHADOW_COLOUR)."""
    lift = (vertices[..., 2:3] - SHADOW_HEIGHT) / -SUN[2]
    return vertices + lift * SUN
