"""`omnivox kiosk`: one conversation on this machine's microphone, speaker and camera,
with a live terminal view."""
