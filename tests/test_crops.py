import cv2
import numpy as np
import pytest

from backend.crops import crop_people, crop_to_image, crop_transforms
from tests.videos import person_photo


def official_transform(cx, cy, w, h, scale, size):
    """The official demo's construction: three matching points (centre, half-height down, half-width right)."""
    src = np.float32([[cx, cy], [cx, cy + h * scale / 2], [cx + w * scale / 2, cy]])
    dst = np.float32([[size / 2, size / 2], [size / 2, size], [size, size / 2]])
    return cv2.getAffineTransform(src, dst)


def test_transforms_match_the_official_three_point_construction():
    boxes = np.array([[100.0, 80.0, 60.0, 60.0], [13.5, 200.25, 40.0, 90.0], [-20.0, 5.0, 300.0, 300.0]])
    ours = crop_transforms(boxes, scale=1.1, size=224)
    for box, transform in zip(boxes, ours, strict=True):
        assert np.allclose(transform, official_transform(*box, 1.1, 224), atol=1e-3)


def test_crop_shows_the_box_content_centred_and_scaled():
    photo = person_photo(300)
    frame = np.zeros((400, 500, 3), np.uint8)
    frame[50:350, 100:100 + photo.shape[1]] = photo
    box = np.array([[100 + photo.shape[1] / 2, 200.0, 300.0, 300.0]])  # the photo's own square box
    crops = crop_people(frame, box, scale=1.0, size=150)
    assert crops.shape == (1, 150, 150, 3) and crops.dtype == np.uint8
    pad = (150 - photo.shape[1] / 2) / 2  # the photo is narrower than its square box: black bands left and right
    expected = cv2.resize(photo, (round(photo.shape[1] / 2), 150), interpolation=cv2.INTER_AREA)
    inner = crops[0, :, round(pad) + 1:round(pad) + expected.shape[1] - 1].astype(int)
    assert np.abs(inner - expected[:, 1:-1]).mean() < 12  # same picture, up to resampling
    assert crops[0, :, : round(pad) - 1].max() == 0 and crops[0, :, -round(pad) + 1:].max() == 0


def test_outside_the_picture_is_black_and_several_boxes_come_in_order():
    frame = np.full((120, 160, 3), 200, np.uint8)
    boxes = np.array([[0.0, 0.0, 40.0, 40.0], [80.0, 60.0, 40.0, 40.0]])  # a corner box and a central one
    crops = crop_people(frame, boxes, scale=1.1, size=64)
    corner, centre = crops.astype(int)
    assert corner[:30, :30].max() == 0 and corner[34:, 34:].min() == 200  # only the lower right quarter is inside
    assert centre.min() == 200
    assert crop_people(frame, np.zeros((0, 4))).shape == (0, 224, 224, 3)


def test_crop_to_image_inverts_the_warp():
    rng = np.random.default_rng(0)
    boxes = np.column_stack([rng.uniform(0, 300, (5, 2)), rng.uniform(20, 200, (5, 2))])
    image_points = rng.uniform(-50, 350, (5, 17, 2))
    transforms = crop_transforms(boxes, 1.1, 224)
    in_crop = np.einsum("kij,knj->kni", transforms[:, :, :2], image_points) + transforms[:, None, :, 2]
    assert np.allclose(crop_to_image(in_crop, boxes, 1.1, 224), image_points)
    # a single bright pixel in the picture shows up where the mapping says
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[100, 150] = 255
    box = np.array([[160.0, 120.0, 100.0, 100.0]])
    crop = crop_people(frame, box, scale=1.0, size=200)[0, :, :, 0]
    y, x = np.unravel_index(crop.argmax(), crop.shape)
    assert np.allclose(crop_to_image(np.array([[[x, y]]]), box, 1.0, 200)[0, 0], [150, 100], atol=0.5)


def test_bad_boxes_are_refused():
    with pytest.raises(ValueError, match="positive width"):
        crop_people(np.zeros((10, 10, 3), np.uint8), np.array([[5.0, 5.0, 0.0, 0.0]]))
