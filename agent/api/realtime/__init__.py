"""The OpenAI-Realtime-compatible WebSocket API (`/v1/realtime`): the event codec
(events.py), the session's wire config (session_config.py), the audio formats at the
edge (audio.py), the sans-I/O protocol (protocol.py) and the aiohttp shell (endpoint.py)."""
