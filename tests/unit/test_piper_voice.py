"""The Piper voice cut into prior and vocoder: windows decode to the whole input's audio."""

from __future__ import annotations

import itertools

import numpy as np

from omnivox.models.talker.piper_voice import HOP, load_voice, split_stages


def test_the_bundled_voice_is_cut_into_prior_and_vocoder() -> None:
    voice = load_voice(None)
    assert voice.streams and voice.sample_rate == 22_050
    ids, _ = voice.ids("hˈɛloʊ")
    audio, frames = voice.run(ids, voice.default_scales())
    assert frames is not None and len(frames) == len(ids)
    assert frames.sum() * HOP == len(audio)  # the decoder expands exactly these frames


def test_windows_with_context_decode_to_the_whole_audio() -> None:
    voice = load_voice(None)
    clauses = voice.phonemizer.clauses(["The closest station is about ten minutes away."])[0]
    ids, _ = voice.ids(" ".join(ipa + "." for ipa, _ in clauses))
    latent = voice.latent(ids, voice.default_scales())
    whole = voice.decode(latent, 0, latent.length)
    cuts = [0, 16, 40, 100, latent.length]
    pieces = np.concatenate([voice.decode(latent, a, b) for a, b in itertools.pairwise(cuts)])
    assert len(pieces) == len(whole) == latent.length * HOP
    error = np.sum((pieces - whole) ** 2)
    assert 10 * np.log10(np.sum(whole**2) / error) > 40  # seams inaudible


def test_what_is_not_an_onnx_model_is_not_cut() -> None:
    assert split_stages(b"") is None  # parses as an empty graph: nothing to cut
    assert split_stages(b"not a model at all") is None
