"""Conversation history as the Thinker will see it.

The assistant's side holds only what the user actually heard: an interrupted reply is
stored truncated to its last fully played word, so the Thinker never believes it said
something the user did not hear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omnivox.models.thinker.base import Message


@dataclass
class History:
    max_messages: int = 40
    messages: list[Message] = field(default_factory=list)

    def add_user(self, text: str) -> None:
        self._append(Message("user", text))

    def add_assistant(self, text: str, *, interrupted: bool = False) -> None:
        """Record what was heard of a reply; an interruption is marked so the Thinker
        can pick up the thread instead of repeating itself."""
        if interrupted:
            text = f"{text} …" if text else "…"
        if text:
            self._append(Message("assistant", text))

    def revise_last_assistant(self, text: str, *, interrupted: bool) -> None:
        """The far end says less of the last reply was heard than assumed (a Realtime
        client's truncate): its message keeps only that."""
        for i in range(len(self.messages) - 1, -1, -1):
            if self.messages[i].role == "assistant" and not self.messages[i].tool_calls:
                del self.messages[i]
                if interrupted:
                    text = f"{text} …" if text else "…"
                if text:
                    self.messages.insert(i, Message("assistant", text))
                return

    def add(self, message: Message) -> None:
        self._append(message)

    def _append(self, message: Message) -> None:
        self.messages.append(message)
        excess = len(self.messages) - self.max_messages
        if excess > 0:
            del self.messages[:excess]
            # A tool result must not lose the assistant message that asked for it.
            while self.messages and self.messages[0].role == "tool":
                del self.messages[0]

    def for_thinker(self, system_prompt: str) -> list[Message]:
        return [Message("system", system_prompt), *self.messages]
