"""Why the turn policy decided what it did on a clip: ``omnivox eval turns --explain``.

For each clip asked about, every step of its replay up to the policy's decision: when
(overlap: since the speech's onset; pause: since its end), the classifier's score, the
words it read (``F`` marks the final recognizer's, else the streaming partial's), and
the policy's verdicts then (``backchannel``, ``interruption``, ``hold``, ``finished``,
``false_interruption_resumed``). A step without a score is the VAD reporting the end of
the speech. Scores and words say what the model and the recognizer made of the clip;
the verdicts, which rule acted on them (agent/turns/policy.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from omnivox.agent.config import TurnsConfig
from omnivox.lab.evaluation.turn_replay import PolicyStep, Trace, policy_steps
from omnivox.models.turn.classifier import TurnThresholds


def explain(
    names: Sequence[str], traces: Sequence[Trace], asked: Sequence[str], tuned: TurnThresholds
) -> dict[str, list[dict[str, object]]]:
    """The policy's steps on each clip named in `asked` (paths as in labels.csv), as
    JSON-ready dicts ``{t_ms, p, text, final, decisions, fired}``, in `asked`'s order."""
    by_name = dict(zip(names, traces, strict=True))
    unknown = [name for name in asked if name not in by_name]
    if unknown:
        raise ValueError(f"--explain: no clip {', '.join(unknown)} in labels.csv")
    return {
        name: [asdict(s) for s in policy_steps(by_name[name], TurnsConfig(), tuned)]
        for name in asked
    }


def format_explained(explained: dict[str, list[dict[str, object]]]) -> list[str]:
    """The plain report's lines for `explain`'s answer."""
    lines: list[str] = []
    for name, steps in explained.items():
        lines += ["", f"{name} (ms, p_takeover or p_finished, words -> verdicts):"]
        lines += [_step_line(PolicyStep(**s)) for s in steps]  # type: ignore[arg-type]
    return lines


def _step_line(s: PolicyStep) -> str:
    if s.p is None:
        said, p = "(speech stopped)", "-"
    else:
        said, p = f"{'F' if s.final else ' '} {s.text!r}", f"{s.p:.3f}"
    verdicts = [*s.decisions, *(["TAKES THE FLOOR"] if s.fired else [])]
    tail = f" -> {', '.join(verdicts)}" if verdicts else ""
    return f"  {s.t_ms:7.0f}  {p:>5}  {said}{tail}"
