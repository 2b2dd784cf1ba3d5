"""Draw a clip's ground truth over its frames into a PNG contact sheet, and print the truth's own checks.

    .venv/bin/python -m tools.check_truth examples/cctv_square.mp4 [--frames 12] [--out SHEET.png]

Per person (one colour each): the projected SMPL skeleton, the box and id, the visible fraction; each ankle is a
filled green disc on frames where that foot is planted (the truth's contact) and a red ring otherwise. A sheet
shows whether the truth lies on the rendered people. The printed checks: how far planted ankles move per frame, how
high planted ankles are, and how many projected joints fall inside the boxes.
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from smpl_rig.skeleton import JOINT_NAMES, PARENTS
from tools.truth import Truth, load_truth

ANKLES = [JOINT_NAMES.index("L_Ankle"), JOINT_NAMES.index("R_Ankle")]
COLOURS = ((255, 80, 40), (40, 200, 255), (60, 220, 60), (230, 60, 230), (0, 160, 255), (255, 255, 60),
           (160, 100, 255), (255, 160, 160))  # BGR


def draw(frame: np.ndarray, truth: Truth, f: int) -> np.ndarray:
    """One frame with the truth of every person drawn over it."""
    image = frame.copy()
    pixels = truth.pixels()[f]
    for p, pid in enumerate(truth.person_ids):
        colour = COLOURS[p % len(COLOURS)]
        uv = pixels[p]
        if np.isnan(uv).any() or (truth.joints3d[f, p, :, 2] <= 0).any():
            continue
        for child, parent in enumerate(PARENTS):
            if parent >= 0:
                cv2.line(image, _pt(uv[child]), _pt(uv[parent]), colour, 1, cv2.LINE_AA)
        if truth.contacts is not None:
            for side, joint in enumerate(ANKLES):
                planted = bool(truth.contacts[f, p, side])
                cv2.circle(image, _pt(uv[joint]), 4, (0, 200, 0) if planted else (0, 0, 255), -1 if planted else 1)
        if truth.boxes is not None and not np.isnan(truth.boxes[f, p]).any():
            x1, y1, x2, y2 = truth.boxes[f, p]
            cv2.rectangle(image, _pt((x1, y1)), _pt((x2, y2)), colour, 1)
            label = f"{pid}" + (f" {truth.visible[f, p]:.0%}" if truth.visible is not None else "")
            cv2.putText(image, label, _pt((x1, max(y1 - 4, 10))), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1,
                        cv2.LINE_AA)
    cv2.putText(image, f"frame {f}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    return image


def _pt(xy) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


def contact_sheet(images: list[np.ndarray], tile_width: int = 480, columns: int = 4) -> np.ndarray:
    """Tile images (all the same size) into rows of `columns`, each scaled to `tile_width` pixels wide."""
    h, w = images[0].shape[:2]
    size = (tile_width, int(round(h * tile_width / w)))
    tiles = [cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in images]
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
    return np.vstack([np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)])


def truth_checks(truth: Truth) -> list[str]:
    """Lines of figures: planted ankles' motion and height, projected joints inside the boxes."""
    lines = []
    if truth.contacts is not None and truth.joints_world is not None:
        ankles = truth.joints_world[:, :, ANKLES]
        planted = truth.contacts[1:] & truth.contacts[:-1]
        moves = np.linalg.norm(np.diff(ankles, axis=0), axis=-1)[planted]
        heights = ankles[..., 2][truth.contacts]
        lines.append(f"planted ankle frames {planted.sum()}: moves at most {moves.max() * 1000:.4f} mm/frame; "
                     f"height above the floor {heights.min() * 100:.1f}-{heights.max() * 100:.1f} cm")
    if truth.boxes is not None:
        pixels, boxes = truth.pixels(), truth.boxes[:, :, None]
        seen = ~np.isnan(boxes[..., 0])
        inside = ((pixels[..., 0] >= boxes[..., 0] - 1) & (pixels[..., 0] <= boxes[..., 2] + 1)
                  & (pixels[..., 1] >= boxes[..., 1] - 1) & (pixels[..., 1] <= boxes[..., 3] + 1))
        in_picture = ((pixels[..., 0] >= 0) & (pixels[..., 0] < truth.width) & (pixels[..., 1] >= 0)
                      & (pixels[..., 1] < truth.height))
        considered = seen & in_picture
        lines.append(f"projected joints in the picture inside their person's box: {inside[considered].mean():.2%}")
        heights = truth.height_px[~np.isnan(truth.boxes[..., 0])]
        lines.append(f"people in the picture: {seen[..., 0].sum()} person-frames, {np.median(heights):.0f} px tall "
                     f"(median; {heights.min():.0f}-{heights.max():.0f}), visible {np.nanmean(truth.visible):.0%} "
                     f"on average; {crossings(truth)} crossings")
    return lines


def read_some_frames(path: Path, wanted: set[int]) -> tuple[dict[int, np.ndarray], int]:
    """The wanted frames of a video (BGR) by index, and how many frames it has."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SystemExit(f"cannot open {path} as a video")
    frames, count = {}, 0
    ok, frame = capture.read()
    while ok:
        if count in wanted:
            frames[count] = frame
        count += 1
        ok, frame = capture.read()
    capture.release()
    return frames, count


def crossings(truth: Truth) -> int:
    """How many times two people pass each other in the picture: the left-right order of their box centres flips
    while their boxes overlap."""
    boxes = truth.boxes
    count = 0
    for p in range(len(truth.person_ids)):
        for q in range(p + 1, len(truth.person_ids)):
            a, b = boxes[:, p], boxes[:, q]
            overlap = (np.maximum(a[:, 0], b[:, 0]) < np.minimum(a[:, 2], b[:, 2])) & (
                np.maximum(a[:, 1], b[:, 1]) < np.minimum(a[:, 3], b[:, 3]))
            order = np.sign((a[:, 0] + a[:, 2]) - (b[:, 0] + b[:, 2]))
            flips = (order[1:] * order[:-1] < 0) & overlap[1:] & overlap[:-1]
            count += int(flips.sum())
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--frames", type=int, default=12, help="how many frames, evenly spread")
    parser.add_argument("--out", type=Path, help="the sheet (default: CLIP_truth.png beside the clip)")
    args = parser.parse_args(argv)
    truth_path = args.clip.with_name(f"{args.clip.stem}_truth.npz")
    if not truth_path.is_file():
        raise SystemExit(f"{args.clip} has no truth file beside it ({truth_path})")
    truth = load_truth(truth_path)
    chosen = np.linspace(0, len(truth.frame_ids) - 1, max(1, args.frames)).round().astype(int)
    frames, count = read_some_frames(args.clip, set(chosen.tolist()))
    if count != len(truth.frame_ids):
        raise SystemExit(f"{args.clip} has {count} frames but its truth {len(truth.frame_ids)}")
    out = args.out or args.clip.with_name(f"{args.clip.stem}_truth.png")
    cv2.imwrite(str(out), contact_sheet([draw(frames[f], truth, f) for f in chosen]))
    print(f"{args.clip.name}: {count} frames, {len(truth.person_ids)} people; sheet {out}")
    for line in truth_checks(truth):
        print("  " + line)


if __name__ == "__main__":
    main()
