"""scenevoice's core: scenes, the scene bus, the mind and the melody planner.

Nothing here imports from ``modules/``: the core knows its modules only through the
scenes they publish and the entry points they register.
"""
