"""Audio in and out: files (decode, resample, write) and sound devices."""
