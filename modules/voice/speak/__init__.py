"""Speaking: the closed loop from a voice plan to realised, measured speech."""
