"""Skeleton, label and contact-sheet drawing on plain images (no Blender)."""

import numpy as np
import pytest

from blender_vibe.drawing import COLOURS, contact_sheet, draw_caption, draw_person, person_colour, tile_scale
from smpl_rig.default_skeleton import default_rest_joints
from smpl_rig.skeleton import JOINT_NAMES


def standing_person(centre_x: float, feet_y: float, height_px: float) -> np.ndarray:
    """(24, 2) pixels of the default T-pose skeleton, upright, feet at `feet_y`."""
    joints = default_rest_joints()[:, :2]  # SMPL canonical: x left-right, y up
    joints = (joints - [0.0, joints[:, 1].min()]) * height_px / np.ptp(joints[:, 1])
    return np.column_stack([centre_x + joints[:, 0], feet_y - joints[:, 1]])


def test_a_person_is_drawn_where_the_joints_are_with_the_label_above_the_head_in_their_colour():
    image = np.zeros((240, 320, 3), np.uint8)
    points = standing_person(160, 220, 150)
    draw_person(image, points, person_colour(2), "2")
    drawn = image.any(axis=-1)
    ys, xs = np.nonzero(drawn)
    assert abs(xs.mean() - 160) < 10 and ys.max() <= 225
    head = points[JOINT_NAMES.index("Head")]
    colour = np.all(image == person_colour(2), axis=-1)
    label_ys, label_xs = np.nonzero(colour[: int(head[1])])  # the filled label box above the head
    assert len(label_ys) > 50 and abs(label_xs.mean() - head[0]) < 3 and label_ys.min() < head[1] - 15


def test_people_at_the_edge_or_out_of_sight_draw_inside_the_picture_without_errors():
    image = np.zeros((120, 160, 3), np.uint8)
    points = standing_person(5, 60, 100)  # head near the top-left corner: the label box is kept inside
    draw_person(image, points, person_colour(1), "12")
    assert np.all(image == person_colour(1), axis=-1)[:20, :20].any()
    wild = np.full((24, 2), np.nan)
    wild[:12] = 1e12
    draw_person(image, wild, person_colour(3), "3")  # behind the camera or undefined: no exception
    draw_caption(image, "frame 1234")
    assert np.all(image[2, 2] == (40, 40, 40)), "the caption box sits in the top-left corner"


def test_every_track_keeps_one_colour_and_neighbours_differ():
    assert person_colour(1) == COLOURS[0] and person_colour(len(COLOURS) + 1) == COLOURS[0]
    assert len({person_colour(i) for i in range(1, len(COLOURS) + 1)}) == len(COLOURS)


def test_contact_sheet_places_tiles_in_rows_and_tiles_shrink_only_to_fit():
    tiles = [np.full((30, 40, 3), 10 * (k + 1), np.uint8) for k in range(5)]
    sheet = contact_sheet(tiles, columns=3, gap=4)
    assert sheet.shape == (2 * 30 + 4, 3 * 40 + 2 * 4, 3)
    for k, (row, column) in enumerate([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]):
        top, left = row * 34, column * 44
        assert np.all(sheet[top:top + 30, left:left + 40] == 10 * (k + 1)), k
    assert np.all(sheet[34:, 88:] == 24), "the empty sixth place is background"
    assert contact_sheet(tiles[:2], columns=3).shape[1] == 2 * 40 + 4, "two tiles make a two-wide sheet"
    assert tile_scale(640, 480, 3) == 1.0
    assert tile_scale(1920, 1080, 3) == pytest.approx(1 / 3)
