"""The embedded SYNTHETIC world: physically grounded rendered pictures with true place and local time.

Not real photographs. Places come from the MP-16 GPS gallery, instants span 2015-2024 and the whole day;
the sun's position (NOAA formulas), climate and season (hemisphere-flipped), snow, clouds, shadows, lit
windows and a smooth regional style decide what each picture shows. See ``docs/world.md``.
"""

from gtloc.data.world.generate import generate_world, image_path, scenes_to_records
from gtloc.data.world.render import render_scene
from gtloc.data.world.scenes import Scene, Scenes, sample_scenes, scene_at
from gtloc.sun import solar_position

__all__ = [
    "Scene",
    "Scenes",
    "generate_world",
    "image_path",
    "render_scene",
    "sample_scenes",
    "scene_at",
    "scenes_to_records",
    "solar_position",
]
