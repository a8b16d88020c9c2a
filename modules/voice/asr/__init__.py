"""Speech recognition: one interface, two Whisper engines, their weights."""
