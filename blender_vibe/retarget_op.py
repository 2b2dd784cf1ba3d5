"""Retarget operators and the Retarget sub-panel: source and target armatures, the bone map editor, map presets.

`bpy.ops.vibe.retarget(source="SMPL", target="Character")` detects the bone map from the target's bone names, or
uses the panel's map with `use_panel_map=True`. The panel's map is saved and loaded as JSON files (see
`retarget.bone_maps`); user maps live in Blender's user presets folder.
"""

import json
from pathlib import Path

import bpy

from smpl_rig.skeleton import JOINT_NAMES

from .retarget.bake import RetargetError, bake_retarget
from .retarget.bone_maps import (
    BUILTIN_DIR,
    BoneMapError,
    best_preset_match,
    builtin_presets,
    detect_bone_map,
    load_preset,
    resolve_preset,
    save_preset,
)
from .sidebar import SubPanel

PRESET_SUBDIR = "presets/blender_vibe/bone_maps"


def user_preset_dir(create: bool = True) -> Path:
    """Where saved bone maps go: Blender's user scripts folder, presets/blender_vibe/bone_maps."""
    return Path(bpy.utils.user_resource("SCRIPTS", path=PRESET_SUBDIR, create=create))


def _is_armature(_settings, obj: bpy.types.Object) -> bool:
    return obj.type == "ARMATURE"


class VibeBoneMapItem(bpy.types.PropertyGroup):
    joint: bpy.props.StringProperty(name="SMPL joint")
    bone: bpy.props.StringProperty(name="Bone", description="The target's bone that follows this SMPL joint")


class VibeRetargetSettings(bpy.types.PropertyGroup):
    source: bpy.props.PointerProperty(
        name="Source", type=bpy.types.Object, poll=_is_armature,
        description="The animated SMPL armature (made by Import Motion)",
    )
    target: bpy.props.PointerProperty(
        name="Target", type=bpy.types.Object, poll=_is_armature, description="The character's armature",
    )
    bone_map: bpy.props.CollectionProperty(type=VibeBoneMapItem)
    switch_properties: bpy.props.StringProperty(
        options={"HIDDEN"}, description="JSON of the loaded map's switch properties (Rigify's IK/FK switches)",
    )
    scale_root_motion: bpy.props.BoolProperty(
        name="Scale root motion", default=True,
        description="Scale the hips' travel by the ratio of the characters' leg lengths",
    )
    feet_on_ground: bpy.props.BoolProperty(
        name="Keep feet on ground", default=False,
        description="Raise or lower the hips every frame so the feet touch the ground whenever the source's do",
    )
    lock_feet: bpy.props.BoolProperty(
        name="Lock planted feet", default=True,
        description="Keep the character's feet in place where the source's are planted (its keyed foot contacts; "
                    "people imported with a floor have them), so the character's own leg lengths do not make it slide",
    )

    def panel_map(self) -> dict[str, str]:
        return {item.joint: item.bone for item in self.bone_map if item.bone}

    def switches(self) -> dict[str, float]:
        return json.loads(self.switch_properties or "{}")

    def set_map(self, bone_map: dict[str, str], switch_properties: dict[str, float]) -> None:
        self.switch_properties = json.dumps(switch_properties)
        self.bone_map.clear()
        for joint in JOINT_NAMES:
            item = self.bone_map.add()
            item.joint, item.bone = joint, bone_map.get(joint, "")


def _settings(context: bpy.types.Context) -> VibeRetargetSettings:
    return context.scene.vibe_retarget


def _armature(name: str, role: str) -> bpy.types.Object:
    obj = bpy.data.objects.get(name)
    if obj is None or obj.type != "ARMATURE":
        raise RetargetError(
            f"No armature object named '{name}' to use as the {role}: choose one in the Retarget panel."
        )
    return obj


class VIBE_OT_retarget(bpy.types.Operator):
    """Bake the source armature's motion onto the target character as a new action"""

    bl_idname = "vibe.retarget"
    bl_label = "Retarget"
    bl_options = {"REGISTER", "UNDO"}

    source: bpy.props.StringProperty(name="Source", description="Name of the animated SMPL armature object")
    target: bpy.props.StringProperty(name="Target", description="Name of the character's armature object")
    use_panel_map: bpy.props.BoolProperty(
        name="Use panel bone map", description="Use the bone map edited in the panel instead of detecting one",
    )
    scale_root_motion: bpy.props.BoolProperty(name="Scale root motion", default=True)
    feet_on_ground: bpy.props.BoolProperty(name="Keep feet on ground", default=False)
    lock_feet: bpy.props.BoolProperty(name="Lock planted feet", default=True)

    def invoke(self, context, event):
        settings = _settings(context)
        self.source = self.source or (settings.source.name if settings.source else "")
        self.target = self.target or (settings.target.name if settings.target else "")
        self.use_panel_map = bool(settings.panel_map())
        self.scale_root_motion, self.feet_on_ground = settings.scale_root_motion, settings.feet_on_ground
        self.lock_feet = settings.lock_feet
        return self.execute(context)

    def execute(self, context):
        try:
            source, target = _armature(self.source, "source"), _armature(self.target, "target")
            if self.use_panel_map:
                bone_map, switches = _settings(context).panel_map(), _settings(context).switches()
            else:
                names = [b.name for b in target.data.bones]
                preset, bone_map = detect_bone_map(names, armature_name=f"'{target.name}'")
                switches = preset.switch_properties
            action = bake_retarget(source, target, bone_map, self.scale_root_motion, self.feet_on_ground, switches,
                                   self.lock_feet)
        except (RetargetError, BoneMapError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Baked '{action.name}': {len(bone_map)} bones of '{target.name}' follow the source.")
        return {"FINISHED"}


class VIBE_OT_retarget_detect_map(bpy.types.Operator):
    """Fill the bone map from the target's bone names (Mixamo, Rigify, Unreal, MakeHuman/Anny)"""

    bl_idname = "vibe.retarget_detect_map"
    bl_label = "Detect Bones"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = _settings(context)
        if settings.target is None:
            self.report({"ERROR"}, "Choose the target armature first.")
            return {"CANCELLED"}
        preset, bone_map, missing = best_preset_match([b.name for b in settings.target.data.bones])
        settings.set_map(bone_map, preset.switch_properties)
        if missing:
            self.report({"WARNING"}, f"No bone found for {', '.join(missing)}: pick them in the bone map.")
        else:
            self.report({"INFO"}, f"Bone map: {preset.label}, {len(bone_map)} joints.")
        return {"FINISHED"}


class VIBE_OT_retarget_save_map(bpy.types.Operator):
    """Save the panel's bone map as a JSON preset"""

    bl_idname = "vibe.retarget_save_map"
    bl_label = "Save Bone Map"

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    def invoke(self, context, event):
        target = _settings(context).target
        self.filepath = str(user_preset_dir() / f"{bpy.path.clean_name(target.name) if target else 'bone_map'}.json")
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        settings = _settings(context)
        bone_map = settings.panel_map()
        if not bone_map:
            self.report({"ERROR"}, "The bone map is empty: detect or pick the bones first.")
            return {"CANCELLED"}
        path = bpy.path.ensure_ext(bpy.path.abspath(self.filepath), ".json")
        try:
            path = save_preset(path, bone_map, switch_properties=settings.switches())
        except OSError as error:
            self.report({"ERROR"}, f"Cannot save the bone map to {path}: {error.strerror}. Choose another folder.")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved the bone map to {path}.")
        return {"FINISHED"}


class VIBE_OT_retarget_load_map(bpy.types.Operator):
    """Load a bone map preset into the panel, matched against the target's bones"""

    bl_idname = "vibe.retarget_load_map"
    bl_label = "Load Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    def invoke(self, context, event):
        self.filepath = str(user_preset_dir()) + "/"
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        settings = _settings(context)
        try:
            preset = load_preset(bpy.path.abspath(self.filepath))
        except BoneMapError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        if settings.target is not None:
            bone_map = resolve_preset(preset, [b.name for b in settings.target.data.bones])
        else:
            bone_map = {joint: names[0] for joint, names in preset.bones.items()}
        settings.set_map(bone_map, preset.switch_properties)
        self.report({"INFO"}, f"Loaded bone map '{preset.label}': {len(bone_map)} joints.")
        return {"FINISHED"}


class VIBE_MT_retarget_presets(bpy.types.Menu):
    bl_label = "Bone Map Presets"

    def draw(self, context):
        layout = self.layout
        for preset in builtin_presets():
            path = BUILTIN_DIR / f"{preset.name}.json"
            layout.operator(VIBE_OT_retarget_load_map.bl_idname, text=preset.label).filepath = str(path)
        saved = sorted(user_preset_dir(create=False).glob("*.json"))
        if saved:
            layout.separator()
        for path in saved:
            layout.operator(VIBE_OT_retarget_load_map.bl_idname, text=path.stem).filepath = str(path)
        layout.separator()
        layout.operator(VIBE_OT_retarget_load_map.bl_idname, text="From File...", icon="FILEBROWSER")


class VIBE_PT_retarget(SubPanel, bpy.types.Panel):
    bl_idname = "VIBE_PT_retarget"
    bl_label = "Retarget"

    def draw(self, context):
        layout = self.layout
        settings = _settings(context)
        layout.prop(settings, "source")
        layout.prop(settings, "target")
        layout.prop(settings, "scale_root_motion")
        layout.prop(settings, "feet_on_ground")
        layout.prop(settings, "lock_feet")
        row = layout.row(align=True)
        row.operator(VIBE_OT_retarget_detect_map.bl_idname, icon="BONE_DATA")
        row.menu(VIBE_MT_retarget_presets.__name__, text="", icon="PRESET")
        row.operator(VIBE_OT_retarget_save_map.bl_idname, text="", icon="FILE_TICK")
        if settings.bone_map and settings.target is not None:
            column = layout.box().column(align=True)
            for item in settings.bone_map:
                column.prop_search(item, "bone", settings.target.data, "bones", text=item.joint)
        row = layout.row()
        row.enabled = settings.source is not None and settings.target is not None
        row.operator(VIBE_OT_retarget.bl_idname, icon="ARMATURE_DATA")


classes = (
    VibeBoneMapItem,
    VibeRetargetSettings,
    VIBE_OT_retarget,
    VIBE_OT_retarget_detect_map,
    VIBE_OT_retarget_save_map,
    VIBE_OT_retarget_load_map,
    VIBE_MT_retarget_presets,
    VIBE_PT_retarget,
)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.Scene.vibe_retarget = bpy.props.PointerProperty(type=VibeRetargetSettings)


def unregister() -> None:
    del bpy.types.Scene.vibe_retarget
    _unregister_classes()
