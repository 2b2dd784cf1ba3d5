"""blender-vibe add-on: the sidebar panel, preferences and operators; heavy work runs in the backend subprocess.

`bl_info` serves the legacy add-on installer; its version, like the extension manifest's, is written by
build_addon.py from `backend.__version__`, the project's one version number.
"""

bl_info = {
    "name": "blender-vibe: motion from video",
    "author": "blender-vibe contributors",
    "blender": (4, 2, 0),
    "location": "3D Viewport > Sidebar > Vibe",
    "description": "Turn a video of people into animated SMPL armatures (VIBE, TCMR or a built-in estimator)",
    "category": "Animation",
}

import sys  # noqa: E402
from types import ModuleType  # noqa: E402

# in the built add-on: `from ._bundled.backend import ...` (build_addon.py bundles backend/ and smpl_rig/)
from backend import __version__  # noqa: E402

__all__ = ["__version__", "register", "unregister"]


def modules() -> tuple:
    """The modules with register()/unregister(), in registration order (the main panel before its child panels).

    Imported here rather than at the top so that the bpy-free parts (runner, build) load without Blender; a new
    module is one more entry.
    """
    from . import export, import_op, job_op, panel, people_list, preferences, retarget_op, setup_backend

    return preferences, setup_backend, import_op, job_op, panel, people_list, retarget_op, export


def register() -> None:
    for module in modules():
        module.register()


def unregister() -> None:
    for module in reversed(modules()):
        module.unregister()
    _forget_submodules()


def _forget_submodules() -> None:
    """Drop this package's submodules, the bundled code included, from `sys.modules` and from the package, so that
    enabling the add-on again imports them afresh from disk. Blender re-runs only a changed `__init__.py` on enable,
    and clears the rest only when it upgrades or uninstalls an enabled extension: without this, a disabled add-on
    upgraded in place would come back with its old code."""
    prefix = f"{__name__}."
    for name in [name for name in sys.modules if name.startswith(prefix)]:
        del sys.modules[name]
    package = globals()
    for name, value in list(package.items()):
        if isinstance(value, ModuleType) and value.__name__.startswith(prefix):
            del package[name]
