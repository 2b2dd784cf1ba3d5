"""The scene clips of examples/ (see examples/README.md): who walks where, the camera, the props."""

from tools.gait import Plan, Stand, WalkTo
from tools.scene import Camera, Keys, Person, Scene
from tools.world import Prop

SCENES: dict[str, Scene] = {}


def _add(scene: Scene) -> None:
    SCENES[scene.name] = scene


_add(Scene(
    name="walk_toward",
    description="one man walks from 6 m to 3 m in front of the camera, turns round and walks back; camera 1.6 m "
                "high, pitched 10 degrees down, portrait",
    camera=Camera(0.0, -6.0, 1.6, pitch=10.0),
    people=(Person(1, Plan(0.0, 0.0, 180.0, (Stand(0.6), WalkTo(0.0, -3.0, 1.2), Stand(1.6), WalkTo(0.0, 0.0, 1.2),
                                             Stand(1.0))), stature=1.78),),
    props=(Prop("bench", -2.6, 3.0, 0.0), Prop("planter", 2.4, 2.0), Prop("pillar", 3.5, 6.0),
           Prop("crate", -1.8, 6.5, 20.0)),
    width=540, height=960, seconds=8.0, seed=1,
))

_add(Scene(
    name="walk_across",
    description="one woman walks across the view 5 m from the camera, then diagonally away and back with two turns; "
                "camera 1.6 m high, pitched 10 degrees down",
    camera=Camera(0.0, -6.0, 1.6, pitch=10.0),
    people=(Person(1, Plan(-3.0, -1.0, -90.0, (Stand(0.4), WalkTo(1.8, -1.0, 1.3, stop=False),
                                               WalkTo(0.4, 2.0, 1.2, stop=False), WalkTo(-1.6, 0.4, 1.2),
                                               Stand(1.0, facing=180.0))),
                   stature=1.68, gender=1.0, weight=0.45),),
    props=(Prop("pillar", -3.2, 5.0), Prop("bench", 2.8, 4.0, -10.0), Prop("crate", -2.5, 2.5, 15.0),
           Prop("lamp", 3.5, 9.0)),
    width=960, height=540, seconds=10.0, seed=2,
))

_add(Scene(
    name="two_depths",
    description="a man walks across 5 m from the camera, stops and walks back, while a woman walks the other way "
                "11 m away; camera 1.6 m high, pitched 7.5 degrees down",
    camera=Camera(0.0, -6.0, 1.6, pitch=7.5),
    people=(Person(1, Plan(-1.8, -1.0, -90.0, (WalkTo(1.6, -1.0, 1.2), Stand(1.2), WalkTo(-1.2, -1.0, 1.2))),
                   stature=1.84, weight=0.6),
            Person(2, Plan(4.5, 5.0, 90.0, (WalkTo(-4.5, 5.0, 1.4),)), stature=1.63, gender=1.0,
                   gait_phase=0.2)),
    props=(Prop("planter", -3.0, 8.0), Prop("bench", 3.5, 9.0, 5.0), Prop("pillar", 0.5, 14.0)),
    width=960, height=540, seconds=8.0, seed=3,
))

_add(Scene(
    name="pan_tripod",
    description="a tripod camera 1.5 m high pans about 55 degrees (yaw +27 to -28) and tilts a little, following a "
                "man who walks 8-10 m away, while a woman stands still",
    camera=Camera(0.0, -8.0, 1.5, pitch=Keys((0.0, 3.0, 6.0, 8.0), (1.0, 4.0, 2.0, 3.0)), follow=1,
                  follow_smoothing=0.6),
    people=(Person(1, Plan(-4.5, 1.0, -90.0, (Stand(0.3), WalkTo(4.0, -1.0, 1.25), Stand(1.0, facing=180.0))),
                   stature=1.76, muscle=0.6),
            Person(2, Plan(1.2, 3.5, 200.0, (Stand(8.0),)), stature=1.66, gender=1.0, weight=0.55)),
    props=(Prop("kiosk", -6.0, 8.0, 10.0), Prop("pillar", 6.0, 3.0), Prop("bench", -2.0, 6.0),
           Prop("planter", 4.0, 8.0), Prop("lamp", -8.0, 2.0)),
    width=960, height=540, seconds=8.0, seed=4,
))

_add(Scene(
    name="cctv_square",
    description="a fixed camera 7.5 m up near a corner of a square, pitched 22 degrees down, over five people who "
                "walk, cross, stop and talk",
    camera=Camera(-14.0, -14.0, 7.5, yaw=-45.0, pitch=22.0),
    people=(Person(1, Plan(-9.0, 1.0, -110.0, (Stand(1.2), WalkTo(5.0, -4.0, 1.35))), stature=1.80),
            Person(2, Plan(5.0, 9.0, 150.0, (Stand(1.5), WalkTo(-3.0, -5.0, 1.2))), stature=1.62, gender=1.0,
                   gait_phase=0.3),
            Person(3, Plan(7.0, -7.0, 45.0, (WalkTo(-5.0, 5.0, 1.3),)), stature=1.91, weight=0.65,
                   gait_phase=0.1),
            Person(4, Plan(-4.0, -10.0, -30.0, (WalkTo(1.0, 0.0, 1.25), Stand(2.5), WalkTo(6.0, 6.0, 1.25))),
                   stature=1.72, gender=1.0, weight=0.4, gait_phase=0.4),
            Person(5, Plan(2.0, 3.5, 100.0, (Stand(3.0), WalkTo(-8.0, 7.0, 1.1))), stature=1.58, gender=0.8,
                   age=0.3)),
    props=(Prop("kiosk", 9.0, -2.0, 30.0), Prop("bench", -6.0, -4.0, 45.0), Prop("bench", 4.0, 12.0, -10.0),
           Prop("planter", -1.0, 8.0), Prop("planter", 10.0, 10.0), Prop("lamp", -3.0, -2.0),
           Prop("lamp", 6.0, 4.0), Prop("pillar", -12.0, 10.0), Prop("crate", 12.0, 2.0, 20.0)),
    width=1280, height=720, fps=25.0, seconds=10.0, seed=5,
))

_add(Scene(
    name="crowd_crossing",
    description="a wide shot from 4 m up of eight people 50-300 px tall crossing the square at depths from 9 to "
                "48 m, passing in front of each other (two pairs walk side by side), entering and leaving the "
                "picture; person 4 walks out on the right, waits out of view and comes back",
    camera=Camera(0.0, -18.0, 4.0, pitch=12.0),
    people=(Person(1, Plan(-6.0, -8.9, -90.0, (WalkTo(6.5, -8.9, 1.1),)), stature=1.80),
            Person(2, Plan(5.0, -5.0, 90.0, (WalkTo(-7.0, -5.0, 1.25),)), stature=1.61, gender=1.0,
                   gait_phase=0.15),
            Person(3, Plan(5.8, -4.2, 90.0, (WalkTo(-6.2, -4.2, 1.25),)), stature=1.86, weight=0.55,
                   gait_phase=0.4),
            Person(4, Plan(1.0, -1.8, -90.0, (WalkTo(9.5, -1.8, 1.3), Stand(1.2), WalkTo(2.0, -1.5, 1.4))),
                   stature=1.69, gender=1.0, weight=0.6, gait_phase=0.05),
            Person(5, Plan(0.3, -1.0, -90.0, (WalkTo(5.0, -1.0, 1.2), Stand(9.0, facing=180.0))), stature=1.93,
                   muscle=0.7, gait_phase=0.3),
            Person(6, Plan(9.0, 6.0, 90.0, (WalkTo(-10.0, 6.0, 1.45),)), stature=1.57, gender=1.0, age=0.3,
                   gait_phase=0.25),
            Person(7, Plan(6.0, 22.0, 150.0, (WalkTo(-4.0, 6.0, 1.45),)), stature=1.78, gait_phase=0.35),
            Person(8, Plan(12.0, 29.0, 90.0, (WalkTo(-6.0, 30.0, 1.4),)), stature=1.70, weight=0.7,
                   gait_phase=0.1)),
    props=(Prop("bench", -9.0, 4.0), Prop("planter", 8.0, 9.0), Prop("lamp", -4.0, 16.0), Prop("lamp", 6.0, 24.0),
           Prop("kiosk", 15.0, 26.0, -15.0), Prop("pillar", -16.0, 14.0), Prop("crate", 10.0, 16.0, 30.0)),
    width=1280, height=720, fps=25.0, seconds=12.0, seed=6, half_size=35.0,
))
