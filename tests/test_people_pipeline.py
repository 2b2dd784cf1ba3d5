"""Every person of a clip through the backend's first pass and the whole job: MoveNet, the identity-keeping tracker
(one person walks behind another), the people summary with thumbnails."""

import io
from pathlib import Path

import numpy as np
import pytest

from backend.detector_model import find_model
from backend.people_summary import SUMMARY_NAME, read_summary
from backend.pipeline import RunOptions, run
from backend.progress import Progress
from tests.crowd import crossing_clip
from tests.videos import write_video

pytestmark = pytest.mark.skipif(find_model() is None, reason="the MoveNet model is not installed "
                                "(scripts/setup.sh installs it: python -m backend.detector_model install)")


@pytest.fixture(scope="module")
def crossing_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crossing")
    frames, patches = crossing_clip()
    video = write_video(folder / "crossing.mp4", frames, fps=24.0)
    path, motion = run(RunOptions(video=video, out_dir=folder / "out", estimator="default", min_frames=10),
                       Progress(stream=io.StringIO()))
    return motion, patches, folder / "out"


def test_each_person_keeps_one_id_through_the_crossing(crossing_run):
    motion, patches, _ = crossing_run
    assert len(motion.people) == 3, {tid: (p.frame_ids[0], p.frame_ids[-1]) for tid, p in motion.people.items()}
    owners = set()
    for tid, person in motion.people.items():
        centres = person.bboxes[:, :2]
        inside = ((centres[:, None] >= patches[person.frame_ids, :, :2]) &
                  (centres[:, None] <= patches[person.frame_ids, :, 2:])).all(-1)  # (n, 3)
        owner = int(np.argmax(inside.sum(0)))
        assert inside[:, owner].mean() > 0.95, f"track {tid} wanders off person {owner}"
        owners.add(owner)
    assert owners == {0, 1, 2}
    walker = next(p for p in motion.people.values() if p.bboxes[0, 0] < 200)
    assert walker.frame_ids[0] <= 3 and walker.frame_ids[-1] >= 44, "the one walking behind keeps their track"


def test_the_people_summary_lists_everyone_with_a_thumbnail(crossing_run):
    motion, _, out = crossing_run
    people = read_summary(Path(out) / SUMMARY_NAME)
    assert [p.id for p in people] == sorted(motion.people)
    for person in people:
        assert (Path(out) / person.thumbnail).is_file()
        assert 100 < person.height_px < 200 and person.frames == len(motion.people[person.id].frame_ids)
