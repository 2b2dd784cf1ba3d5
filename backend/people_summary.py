"""Who was found: per person a thumbnail, the frame span and the size, so a user can pick people by sight.

The backend writes `people.json` and `people/person_<id>.png` next to `motion.npz`. The thumbnail is the person's
crop on the frame where their box is tallest (the most detail), cut during the estimation pass from frames that are
decoded anyway. No torch here: the add-on reads the summary with `read_summary` and prints it with `describe_person`.

people.json: {"format": "blender-vibe-people", "format_version": 1, "people": [{"id", "first_frame", "last_frame"
(video frames from 0, as motion.npz), "frames" (tracked frames), "height_px" (median box height), "thumbnail"
(file name relative to the folder)}, ...]}.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SUMMARY_NAME = "people.json"
THUMBNAIL_SIZE = 128
FORMAT = "blender-vibe-people"


@dataclass(frozen=True)
class PersonSummary:
    id: int
    first_frame: int
    last_frame: int
    frames: int
    height_px: float
    thumbnail: str


def thumbnail_frames(frame_ids: dict[int, np.ndarray], bboxes: dict[int, np.ndarray]) -> dict[int, int]:
    """{track id: the frame where that person's (square) box is largest}."""
    return {tid: int(frame_ids[tid][int(np.argmax(np.asarray(bboxes[tid])[:, 3]))]) for tid in frame_ids}


def summarise(people: dict) -> list[PersonSummary]:
    """Summaries of {track id: `smpl_rig.motion.Person`}; the size is the median side of the tracked square box
    (the height of an upright person)."""
    return [PersonSummary(id=int(tid), first_frame=int(p.frame_ids[0]), last_frame=int(p.frame_ids[-1]),
                          frames=len(p.frame_ids), height_px=round(float(np.median(p.bboxes[:, 3])), 1),
                          thumbnail=f"people/person_{tid}.png")
            for tid, p in sorted(people.items())]


def write_summary(folder: str | Path, summaries: list[PersonSummary], thumbnails: dict[int, np.ndarray]) -> Path:
    """Write the thumbnails (RGB uint8, by track id) and people.json (atomically, last) into `folder`."""
    import cv2

    folder = Path(folder)
    (folder / "people").mkdir(parents=True, exist_ok=True)
    for person in summaries:
        if isinstance(thumbnails.get(person.id), np.ndarray):  # a crop, not the frame it was to be cut from
            cv2.imwrite(str(folder / person.thumbnail), cv2.cvtColor(thumbnails[person.id], cv2.COLOR_RGB2BGR))
    path = folder / SUMMARY_NAME
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps({"format": FORMAT, "format_version": 1, "people": [asdict(p) for p in summaries]},
                              indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_summary(path: str | Path) -> list[PersonSummary]:
    """people.json -> summaries; ValueError for a file that is not one."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a blender-vibe people summary")
    return [PersonSummary(**{k: row[k] for k in PersonSummary.__dataclass_fields__}) for row in data["people"]]


def describe_person(person: PersonSummary, fps: float | None = None) -> str:
    """'Person 3: frames 12-240 (229 tracked), about 85 px tall' with Blender's frame numbers (video frame + 1)."""
    span = f"frames {person.first_frame + 1}-{person.last_frame + 1} ({person.frames} tracked"
    seconds = f", {person.frames / fps:.1f} s" if fps else ""
    return f"Person {person.id}: {span}{seconds}), about {person.height_px:.0f} px tall"
