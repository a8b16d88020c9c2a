"""VoiceModule: listening (VAD, Whisper, timbre and prosody) and speaking (Piper)."""

from modules.voice.module import VoiceModule

__all__ = ["VoiceModule"]
