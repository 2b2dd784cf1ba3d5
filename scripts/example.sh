#!/usr/bin/env bash
# Set up .venv (if needed), then run the whole job on the project's example clip:
# video -> backend -> SMPL armature in out/example/squat_march.blend and .fbx, plus preview.png (a contact
# sheet: the skeleton drawn over frames across the clip) and preview.mp4 (the whole clip with the skeleton). Uses VIBE/TCMR when ./vibe_data holds their files, else the
# built-in estimator. Extra arguments go to `python -m blender_vibe`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data_dir=()
[ -d vibe_data ] && data_dir=(--data-dir vibe_data)
mkdir -p out/example
.venv/bin/python -m blender_vibe examples/squat_march.mp4 "${data_dir[@]}" \
  -o out/example/squat_march.blend -o out/example/squat_march.fbx --preview out/example/preview.png \
  --preview-video out/example/preview.mp4 "$@"
