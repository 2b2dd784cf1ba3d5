"""`python -m blender_vibe VIDEO -o OUT.blend`: see headless.py."""

import sys

from .headless import main

sys.exit(main())
