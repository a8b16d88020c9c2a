"""Synthesisers: Piper (fast, CPU) and Bark."""
