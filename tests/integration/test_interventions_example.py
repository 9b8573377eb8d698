"""The worked example (examples/interventions) end to end, through `omnivox simulate`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnivox.agent.config import load_config
from omnivox.agent.simulate import simulate

from .conftest import shared_stack, silence, speech

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
