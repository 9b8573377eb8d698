"""Telephony providers' WebSocket media streams (Twilio Media Streams' JSON protocol):
protocol.py the sans-I/O core, codec.py mu-law at 8 kHz, stream.py the aiohttp shell."""
