"""`OUT/report.json`: every video's result, error and figures, rewritten (atomically) as each video ends, so that
a batch that was killed still leaves the report of what it did."""

import time
from dataclasses import asdict
from pathlib import Path

from .video import VideoResult, write_json

REPORT_FILE = "report.json"
FORMAT = "blender-vibe-batch-report"


def write_report(out: Path, results: list[VideoResult], batch: dict) -> Path:
    """`batch`: how the batch ran (command, runner, options, start time); `results`: one per video, in input order
    (videos not run yet have result 'waiting')."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result.result] = counts.get(result.result, 0) + 1
    report = {"format": FORMAT, "format_version": 1, **batch, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "counts": counts, "videos": [asdict(result) for result in results]}
    return write_json(out / REPORT_FILE, report)
