"""The scene bus across machines: chosen scene kinds to and from an MQTT broker (the only
part of the project that knows MQTT exists)."""

from modules.bridge.module import BridgeModule

__all__ = ["BridgeModule"]
