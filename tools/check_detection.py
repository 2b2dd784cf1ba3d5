"""Check that detectors find the person in a clip, and that the clip's ground truth lines up with the pictures.

    .venv/bin/python -m tools.check_detection examples/squat_march.mp4 [--every 1]

Runs MediaPipe BlazePose (`solutions.pose`, model_complexity=1, every frame on its own) and OpenCV's HOG people
detector on every `--every`-th frame and prints how often each finds a person. With NAME_truth.npz beside the clip,
it also reports how far (pixels) MediaPipe's shoulders, elbows, wrists, hips, knees and ankles are from the true SMPL
joints projected into the image, and how often a HOG box contains the projected pelvis.
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from smpl_rig.skeleton import JOINT_NAMES

# MediaPipe pose landmark index -> SMPL joint name (MediaPipe's "left" is the person's left, as SMPL's).
MEDIAPIPE_TO_SMPL = {11: "L_Shoulder", 12: "R_Shoulder", 13: "L_Elbow", 14: "R_Elbow", 15: "L_Wrist", 16: "R_Wrist",
                     23: "L_Hip", 24: "R_Hip", 25: "L_Knee", 26: "R_Knee", 27: "L_Ankle", 28: "R_Ankle"}


def project_points(points: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points (..., 3) to pixels (..., 2)."""
    uvw = np.asarray(points) @ np.asarray(intrinsics).T
    return uvw[..., :2] / uvw[..., 2:3]


def read_frames(path: Path, every: int = 1) -> list[tuple[int, np.ndarray]]:
    """(frame index, BGR frame) for every `every`-th frame of a video."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SystemExit(f"cannot open {path} as a video")
    frames, index = [], 0
    ok, frame = capture.read()
    while ok:
        if index % every == 0:
            frames.append((index, frame))
        index += 1
        ok, frame = capture.read()
    capture.release()
    return frames


def mediapipe_landmarks(frames: list[np.ndarray]) -> list[np.ndarray | None]:
    """Per frame, the 33 BlazePose landmarks in pixels (33, 2), or None where no person was found."""
    import mediapipe as mp

    results = []
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        for frame in frames:
            found = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).pose_landmarks
            h, w = frame.shape[:2]
            results.append(None if found is None else
                           np.array([(lm.x * w, lm.y * h) for lm in found.landmark]))
    return results


def hog_boxes(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Per frame, OpenCV's default HOG people detections as (K, 4) x, y, w, h boxes."""
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return [np.reshape(hog.detectMultiScale(frame, winStride=(8, 8), padding=(16, 16), scale=1.05)[0], (-1, 4))
            for frame in frames]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--every", type=int, default=1, help="check every N-th frame")
    args = parser.parse_args(argv)
    indexed = read_frames(args.clip, max(1, args.every))
    ids, frames = [i for i, _ in indexed], [f for _, f in indexed]
    landmarks, boxes = mediapipe_landmarks(frames), hog_boxes(frames)
    found = [lm is not None for lm in landmarks]
    print(f"{args.clip.name}: {len(frames)} frames checked")
    print(f"  MediaPipe BlazePose found a person in {np.mean(found):.0%}")
    print(f"  HOG people detector found a person in {np.mean([len(b) > 0 for b in boxes]):.0%}")

    truth_path = args.clip.with_name(f"{args.clip.stem}_truth.npz")
    if not truth_path.is_file():
        return
    with np.load(truth_path) as truth:
        pixels = project_points(truth["joints3d"][ids], truth["intrinsics"])
    smpl = [JOINT_NAMES.index(name) for name in MEDIAPIPE_TO_SMPL.values()]
    distances = np.array([np.linalg.norm(lm[list(MEDIAPIPE_TO_SMPL)] - px[smpl], axis=1)
                          for lm, px in zip(landmarks, pixels, strict=True) if lm is not None])
    if len(distances):
        print("  MediaPipe landmark to projected true joint, median pixels: "
              + ", ".join(f"{name} {d:.1f}" for name, d in zip(MEDIAPIPE_TO_SMPL.values(), np.median(distances, 0),
                                                                strict=True)))
    pelvis = pixels[:, JOINT_NAMES.index("Pelvis")]
    inside = [any(x <= p[0] <= x + w and y <= p[1] <= y + h for x, y, w, h in b)
              for b, p in zip(boxes, pelvis, strict=True)]
    print(f"  a HOG box contains the projected true pelvis in {np.mean(inside):.0%}")


if __name__ == "__main__":
    main()
