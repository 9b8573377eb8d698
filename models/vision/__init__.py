"""Vision models: what the camera tells the agent (presence and attention)."""
