"""What the agent said lately, so that its own words are not counted as the user's.

An echo no canceller took out reaches the recognizer, which transcribes our own reply
under a user's "mm okay"; the turn policy compares an overlap's words with the words
the agent was playing around its onset. Pure: fed the words as they start playing.
"""

from __future__ import annotations

from collections import deque

from omnivox.models.turn.wording import said_words

AGENT_ECHO_LEAD_MS = 1500.0
"""The agent's words that began playing this long before an overlap's onset may still be
in its audio: the word under way at the onset, the far end's playout delay and the
echo path (together up to about a second), and the recogniser's pre-roll."""


class SpokenWords:
    def __init__(self) -> None:
        self._said: deque[tuple[float, frozenset[str]]] = deque()
        """What the agent said, by when each piece began playing."""

    def played(self, t_ms: float, text: str) -> None:
        """`text` began playing at `t_ms`."""
        self._said.append((t_ms, said_words(text)))

    def around(self, onset_ms: float) -> frozenset[str]:
        """The agent's words from around an onset on: not the user's."""
        since = onset_ms - AGENT_ECHO_LEAD_MS
        return frozenset().union(*(said for t, said in self._said if t >= since))

    def forget(self, t_ms: float, *onsets_ms: float | None) -> None:
        """Keep only what may still be compared with speech beginning at one of
        `onsets_ms` (those under way) or now."""
        since = min([t_ms, *(o for o in onsets_ms if o is not None)]) - AGENT_ECHO_LEAD_MS
        while self._said and self._said[0][0] < since:
            self._said.popleft()
