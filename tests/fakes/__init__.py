"""Test doubles: synthetic signals and a spied recognizer. The scripted OpenAI-compatible
server lives in omnivox.lab.openai_server (benchmarks use it too)."""
