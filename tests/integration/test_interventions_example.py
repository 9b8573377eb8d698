"""The worked example (examples/interventions) end to end, through `omnivox simulate`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnivox.agent.config import load_config, parse_config
from omnivox.lab.openai_server import FakeOpenAIServer, text_stream
from omnivox.lab.simulate import simulate
from omnivox.lab.user_track import silence, speech

from .conftest import shared_stack, with_thinker

EXAMPLE = Path(__file__).parents[2] / "examples" / "interventions" / "agent.yaml"


async def test_a_spoken_question_is_answered_from_the_docs_folder() -> None:
    config = load_config(EXAMPLE).model_copy(update={"greeting": ""})
    pcm = np.concatenate([silence(0.5), speech("Are dogs allowed in the building?"), silence(0.5)])
    res = await simulate(pcm, shared_stack(), config)
    # Not in the knowledge base: the Thinker speaks the passage RAG found.
    spoken = " ".join(e["text"] for e in res.of_type("reply_text"))
    assert spoken == "Only assistance dogs are allowed inside the building.", res.events
    (sources,) = res.of_type("sources")
    top = sources["items"][0]
    assert top["title"] == "House rules › Dogs and other pets"
    assert top["path"] == "house_rules.md" and 0.3 <= top["score"] <= 1.0
    (metrics,) = res.of_type("turn_metrics")
    assert {"rag", "safety"} <= metrics["interventions"].keys()
    assert not res.of_type("error")


async def test_rag_passages_reach_a_remote_thinker(tmp_path: Path) -> None:
    """The same folder behind an OpenAI-compatible Thinker: the passages go into the
    system message of the request (the wire-exact fake server records it)."""
    async with FakeOpenAIServer([text_stream(["Only assistance dogs."])]) as llm:
        example = load_config(EXAMPLE)
        config = parse_config(
            {
                "greeting": "",
                "system_prompt": "Be brief.",
                "interventions": example.interventions,
                "thinker": {"backend": "openai", "base_url": llm.base_url, "model": "m"},
            }
        )
        stack = with_thinker(config)
        pcm = np.concatenate(
            [silence(0.5), speech("Are dogs allowed in the building?"), silence(0.5)]
        )
        try:
            res = await simulate(pcm, stack, config)
        finally:
            await stack.thinker.close()  # type: ignore[attr-defined]
    assert [e["text"] for e in res.of_type("reply_text")] == ["Only assistance dogs."]
    [request] = llm.requests
    system = request.body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("Be brief.")
    assert "Only assistance dogs are allowed inside the building." in system["content"]
    assert res.of_type("sources")
