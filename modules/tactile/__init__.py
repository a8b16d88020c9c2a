"""TactileModule: touch, gesture, pose and IMU events → gesture scenes; gestures out to an actuator."""

from modules.tactile.module import TactileModule

__all__ = ["TactileModule"]
