"""The backend job: video -> detection and tracking -> per-person crops -> estimator -> camera -> smoothing -> world
-> file.

Two streamed passes over the video keep memory bounded whatever its length: the first detects and tracks (boxes
only), the second crops the tracked people and feeds each tracklet to the estimator in chunks of `CHUNK` frames
(VIBE's demo restarts its GRU every 450 frames the same way). In each pass decoding (and cropping) runs ahead in a
thread of its own (`overlap.prefetch`), so a pass takes about as long as its slowest stage, not the sum of them. The
world step (`smpl_rig.world`) then finds the floor and the camera's pose from where the people's feet touch the
ground, and locks planted feet.
"""

import logging
import time
from collections import defaultdict
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smpl_rig.camera import crop_cam_to_orig_cam, orig_cam_to_translation
from smpl_rig.motion import Motion, Person, save_motion
from smpl_rig.perspective import correct_root_orientation
from smpl_rig.rest_skeleton import person_rest_joints, smpl_model_in
from smpl_rig.world import place_in_world

from .appearance import describe
from .bytetrack import ByteTracker
from .camera_motion import CameraRotationTracker
from .crops import crop_people
from .detection import create_detector
from .errors import BackendError, NothingFound
from .estimators import create_estimator, resolve_device
from .overlap import Workers, available_cores, prefetch
from .people_summary import THUMBNAIL_SIZE, summarise, thumbnail_frames, write_summary
from .progress import Progress
from .smoothing import smooth_pose, smooth_vectors
from .tracking import SortTracker, Tracklet, collect_tracklets
from .video import VideoReader

CHUNK = 450
BUILTIN_DETECT_EVERY = 4  # the built-in detectors are ~10x slower than the estimator; boxes in between interpolated
LOST_SECONDS = 1.0  # the tracker keeps a person it no longer sees this long (hidden behind someone)
DECODE_AHEAD = 4  # frames decoded ahead of the detector (a 4K frame is 25 MB)
CROPS_AHEAD_BYTES = 256 * 2**20  # crops cut ahead of the estimator: up to a chunk per person, within this budget


@dataclass
class RunOptions:
    video: Path
    out_dir: Path
    data_dir: Path | None = None
    estimator: str = "auto"
    checkpoint: str | None = None
    device: str = "auto"
    start: int = 0
    end: int | None = None
    min_frames: int = 25
    smooth: float = 1.5
    detect_every: int = 0  # run the detector on every k-th frame; 0 = 1 for YOLOv3, BUILTIN_DETECT_EVERY otherwise
    rejoin: float = 10.0  # seconds: a person back within this long keeps their id when clearly the same; 0 = never
    foot_lock: bool = True  # keep planted feet in place (in the world frame, when a floor is found)
    runtime: str = "auto"  # VIBE/TCMR: auto, openvino or torch (backend.estimators.use_runtime)


def run(options: RunOptions, progress: Progress) -> tuple[Path, Motion]:
    """Run the whole job and write `out_dir/motion.npz`; raises BackendError with an actionable message."""
    device = resolve_device(options.device)
    reader = VideoReader(options.video, start=options.start, end=options.end)
    estimator, reason = create_estimator(options.estimator, options.data_dir, device, options.checkpoint,
                                         options.runtime)
    progress.emit(stage="setup", done=1, total=1, estimator=estimator.name, reason=reason, device=device,
                  runtime=getattr(estimator, "runtime", None), frames=reader.num_frames, fps=reader.fps,
                  width=reader.width, height=reader.height)
    detector = create_detector(options.data_dir, device)
    every = options.detect_every or (1 if detector.name.startswith("yolo") else BUILTIN_DETECT_EVERY)
    camera = CameraRotationTracker(reader.width, reader.height)
    with timed("detection pass"):
        tracklets = detect_and_track(reader, detector, options.min_frames, every, progress, options.rejoin, camera)
    camera_rotations = camera.result()
    if not tracklets:
        raise BackendError(
            f"No person was found in {Path(options.video).name} for at least {options.min_frames} frames "
            f"(detector: {detector.name}).",
            "Use a clip where a whole person is clearly visible, or lower the shortest track length "
            "(--min-frames; 'Shortest track' in the Blender panel).",
        )
    thumbnails = thumbnail_frames({t: k.frame_ids for t, k in tracklets.items()},
                                  {t: k.bboxes for t, k in tracklets.items()})
    with timed("estimation pass"):
        raw = estimate_tracklets(reader, tracklets, estimator, progress, thumbnails)
    if not raw:
        raise BackendError(
            f"The {estimator.name} estimator found no person in any tracked region of {Path(options.video).name}.",
            "Use a clip where a whole person is clearly visible, or try another estimator.",
        )
    box_scale = getattr(estimator, "camera_box_scale", 1.0)
    people = {tid: to_person(tracklets[tid], rows, out, reader.width, reader.height, options.smooth, box_scale)
              for tid, (rows, out) in raw.items()}
    motion = Motion(fps=reader.fps, width=reader.width, height=reader.height, estimator=estimator.name,
                    estimator_version=estimator.version, source=str(Path(options.video).resolve()), people=people,
                    camera_frame_ids=camera_rotations.frame_ids, camera_rotations=camera_rotations.rotations)
    motion = place_people(motion, options.data_dir, options.foot_lock, progress)
    progress.update("write", 0, 1)
    path = save_motion(motion, Path(options.out_dir) / "motion.npz")
    write_summary(options.out_dir, summarise(people), thumbnails)
    progress.update("write", 1, 1)
    return path, motion


@contextmanager
def timed(what: str):
    """Log how long the block took and how much processor time (all threads) it used: the cores it kept busy."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    logging.info("%s: %.1f s, %.1f s of processor time (%.2f cores)", what, wall, cpu, cpu / max(wall, 1e-9))


def detect_and_track(reader: VideoReader, detector, min_frames: int, every: int, progress: Progress,
                     rejoin_seconds: float = 0.0, camera: CameraRotationTracker | None = None) -> dict[int, Tracklet]:
    """First pass: detections on every `every`-th frame (and the last), fed to the tracker; boxes in between are
    interpolated, and tracklets shorter than `min_frames` are dropped. YOLOv3's detections go to SORT, as in the
    official demo; the built-in detectors' to the ByteTrack-style tracker with clothes' colours, which also re-joins
    a person who comes back within `rejoin_seconds`. `camera` sees every frame and the detections, to estimate the
    camera's rotation from the background. Frames are decoded ahead of the detector."""
    official = detector.name.startswith("yolo")
    tracker = SortTracker() if official else ByteTracker(max_lost=max(1, round(LOST_SECONDS * reader.fps / every)))

    def detections():
        for i, (frame_id, rgb) in enumerate(prefetch(reader, DECODE_AHEAD)):
            dets = None
            if i % every == 0 or i == reader.num_frames - 1:
                dets = detector.detect(rgb)
                yield (frame_id, dets) if official else (frame_id, dets, describe(rgb, dets))
            if camera is not None:
                camera.add(frame_id, rgb, dets)
            progress.update("detect", i + 1, reader.num_frames)
        progress.update("detect", reader.num_frames, reader.num_frames)  # the total a truncated file lowered

    rejoin_gap = 0 if official else round(rejoin_seconds * reader.fps)
    tracklets = collect_tracklets(detections(), min_frames=min_frames, tracker=tracker, max_gap=every,
                                  rejoin_gap=rejoin_gap)
    logging.info("detector %s (%s model calls), tracker %s: %d people tracked for %d frames or more", detector.name,
                 getattr(detector, "calls", "-"), type(tracker).__name__, len(tracklets), min_frames)
    return tracklets


class ChunkFeeder:
    """Feeds one tracklet's crops to the estimator in chunks of `CHUNK` frames, as they are cut, so memory stays
    bounded. An estimator with `context = (before, after)` (TCMR's 16-frame windows) also gets that many frames of
    the neighbouring chunks and keeps only the chunk's own outputs, so chunk edges match one long sequence; VIBE has
    no context: its GRU restarts every chunk, as in the official demo. Chunks go to `workers` (several tracklets'
    chunks estimated at once when the estimator allows it); `results` waits for them."""

    def __init__(self, estimator, num_rows: int, workers: Workers | None = None) -> None:
        self.estimator = estimator
        self.workers = workers or Workers(1)
        self.before, self.after = getattr(estimator, "context", (0, 0))
        self.num_rows = num_rows
        self.pending: list[tuple[int, np.ndarray]] = []  # (row, crop) not estimated yet
        self.past: list[tuple[int, np.ndarray]] = []  # the previous chunk's last `before` crops
        self.chunks: list[tuple[list[int], Future]] = []  # rows, and their outputs to come (None: nobody seen)

    @property
    def results(self) -> list[tuple[list[int], dict[str, np.ndarray]]]:
        """(rows, outputs) of every chunk in which the estimator saw someone, in order (waits for them)."""
        return [(rows, out) for rows, future in self.chunks if (out := future.result()) is not None]

    def add(self, row: int, crop: np.ndarray) -> None:
        self.pending.append((row, crop))
        last = row == self.num_rows - 1
        if last or len(self.pending) >= CHUNK + self.after:
            self._estimate(self.pending if last else self.pending[:CHUNK])

    def _estimate(self, chunk: list[tuple[int, np.ndarray]]) -> None:
        ahead = self.pending[len(chunk):len(chunk) + self.after]
        rows = [row for row, _ in chunk]
        crops = np.stack([crop for _, crop in self.past + chunk + ahead])
        own = slice(len(self.past), len(self.past) + len(chunk))
        self.chunks.append((rows, self.workers.submit(self._outputs, crops, own, rows)))
        self.past = chunk[max(len(chunk) - self.before, 0):]
        self.pending = self.pending[len(chunk):]

    def _outputs(self, crops: np.ndarray, own: slice, rows: list[int]) -> dict[str, np.ndarray] | None:
        try:
            out = self.estimator.estimate(crops)
        except NothingFound as exc:
            logging.info("rows %d-%d dropped: %s", rows[0], rows[-1], exc)
            return None
        return {key: value[own] for key, value in out.items()}


def estimate_tracklets(reader: VideoReader, tracklets: dict[int, Tracklet], estimator, progress: Progress,
                       thumbnails: dict | None = None) -> dict[int, tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Second pass: crop every tracked person and feed the estimator each tracklet's crops in frame order; decoding
    and cropping run ahead in their own thread, up to a chunk per person (within CROPS_AHEAD_BYTES), so the next
    chunk is being cut while the estimator works on one.

    An estimator with `concurrency` > 1 (the default estimator) gets chunks of several tracklets at once, in threads,
    up to that many and the cores available (`overlap.available_cores`); each call's output is what it would be alone.

    Returns {track id: (rows kept, outputs)}; a chunk where the estimator sees nobody (NothingFound) is dropped.
    `thumbnails` {track id: frame id}, if given, gets each person's thumbnail (RGB crop) in place of the frame id.
    """
    crop_size, crop_scale = getattr(estimator, "crop_size", 224), getattr(estimator, "crop_scale", 1.1)
    active: dict[int, list[tuple[int, int]]] = defaultdict(list)  # frame -> [(track id, row)]
    for tid, tracklet in tracklets.items():
        for row, frame_id in enumerate(tracklet.frame_ids):
            active[int(frame_id)].append((tid, row))
    last_frame = max(int(t.frame_ids[-1]) for t in tracklets.values())

    def cut():
        for i, (frame_id, rgb) in enumerate(reader):
            if frame_id > last_frame:
                return
            here = active.get(frame_id, [])
            boxes = np.stack([tracklets[tid].bboxes[row] for tid, row in here]) if here else None
            for (tid, _), box in zip(here, boxes if here else (), strict=True):
                if thumbnails is not None and isinstance(thumbnails.get(tid), int) and thumbnails[tid] == frame_id:
                    thumbnails[tid] = crop_people(rgb, box[None], 1.2, THUMBNAIL_SIZE)[0]
            yield i, here, (crop_people(rgb, boxes, crop_scale, crop_size) if here else ())

    crops_per_frame = max(len(here) for here in active.values())
    ahead = CROPS_AHEAD_BYTES // (crops_per_frame * crop_size * crop_size * 3)
    with Workers(max(1, min(getattr(estimator, "concurrency", 1), available_cores()))) as workers:
        feeders = {tid: ChunkFeeder(estimator, len(tracklet.frame_ids), workers) for tid, tracklet in tracklets.items()}
        for i, here, crops in prefetch(cut(), depth=max(2, min(CHUNK, ahead))):
            for (tid, row), crop in zip(here, crops, strict=True):
                feeders[tid].add(row, crop)
            progress.update("estimate", i + 1, reader.num_frames)
        results = {tid: feeder.results for tid, feeder in feeders.items()}
    progress.update("estimate", reader.num_frames, reader.num_frames)  # also when the tracks end before the video
    return {
        tid: (np.concatenate([rows for rows, _ in chunks]),
              {k: np.concatenate([out[k] for _, out in chunks]) for k in chunks[0][1]})
        for tid, chunks in results.items() if chunks
    }


def to_person(tracklet: Tracklet, rows: np.ndarray, out: dict[str, np.ndarray], width: int, height: int,
              smooth: float, box_scale: float = 1.0) -> Person:
    """Estimator output for `rows` of a tracklet -> a Person with full-image camera, root translation, the root
    orientation seen from the camera rather than the crop (`smpl_rig.perspective`), smoothing.

    `box_scale`: the box size the estimator's crop camera refers to, relative to the tracked box (VIBE's demo
    converts with the tracked box although it crops 1.1 times larger; TCMR's converts with its 1.2 crop)."""
    frame_ids = np.asarray(tracklet.frame_ids, dtype=np.int64)[rows]
    bboxes = np.asarray(tracklet.bboxes, dtype=np.float64)[rows]
    camera_boxes = bboxes * np.array([1.0, 1.0, box_scale, box_scale])
    orig_cam = crop_cam_to_orig_cam(out["cam"], camera_boxes, width, height)
    trans = smooth_vectors(orig_cam_to_translation(orig_cam), frame_ids, smooth)
    pose = correct_root_orientation(out["pose"], bboxes, width, height)
    return Person(
        pose=smooth_pose(pose, frame_ids, smooth).astype(np.float32),
        betas=np.asarray(out["betas"], dtype=np.float32),
        trans=trans.astype(np.float32),
        cam=np.asarray(out["cam"], dtype=np.float32),
        orig_cam=orig_cam.astype(np.float32),
        bboxes=bboxes.astype(np.float32),
        frame_ids=frame_ids,
        joints3d=np.asarray(out["joints3d"], dtype=np.float32),
        root=(trans + out["pelvis"]).astype(np.float32),
    )



def place_people(motion: Motion, data_dir: Path | None, foot_lock: bool, progress: Progress) -> Motion:
    """The world step: floor, camera pose, depth from the floor, contacts and locked feet, for the rest skeleton each
    person will be imported with (`smpl_rig.rest_skeleton`); the people stay in the camera frame when no floor is
    found, and the log says why."""
    progress.update("world", 0, 1)
    model = smpl_model_in(data_dir)
    rest_joints = {pid: person_rest_joints(person, model) for pid, person in motion.people.items()}
    motion = place_in_world(motion, rest_joints, foot_lock)
    logging.info("world: %s", motion.world_note)
    progress.update("world", 1, 1)
    return motion
