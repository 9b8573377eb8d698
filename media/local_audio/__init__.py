"""The kiosk's transport: a local microphone and loudspeaker through PortAudio
(sounddevice), resampled at the edge, with the echo path measured at start."""
