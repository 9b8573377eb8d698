"""Typed failures of remote Thinker backends.

Every error carries a short, user-safe `message` (no API key, no Authorization header, no
URL credentials: it may be shown on the page or spoken about) and a machine-readable
`kind`, so the Reply can say what went wrong and metrics can count failures by cause.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "connect",
    "http_status",
    "timeout_first_token",
    "timeout_idle",
    "disconnected",
    "protocol",
    "server_error",
]


class ThinkerError(Exception):
    """Base of all Thinker backend failures."""

    kind: ErrorKind

    def __init__(self, message: str, kind: ErrorKind) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, message={self.message!r})"


class ThinkerConnectError(ThinkerError):
    """The endpoint could not be reached (refused, DNS, TLS, connect timeout)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "connect")


class ThinkerHTTPError(ThinkerError):
    """The endpoint answered with a non-2xx status.

    `retry_after_s` is the server's Retry-After (or retry-after-ms) in seconds, when sent.
    """

    def __init__(self, message: str, status: int, retry_after_s: float | None = None) -> None:
        super().__init__(message, "http_status")
        self.status = status
        self.retry_after_s = retry_after_s


class ThinkerTimeoutError(ThinkerError):
    """No first token within the first-token budget, or too long a gap between chunks."""

    def __init__(
        self, message: str, kind: Literal["timeout_first_token", "timeout_idle"], timeout_s: float
    ) -> None:
        super().__init__(message, kind)
        self.timeout_s = timeout_s


class ThinkerDisconnectedError(ThinkerError):
    """The connection ended before the answer did (no finish_reason and no [DONE])."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "disconnected")


class ThinkerProtocolError(ThinkerError):
    """The server sent something that is not the OpenAI wire format (bad JSON, bad
    tool-call arguments, an unexpected content type)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "protocol")


class ThinkerServerError(ThinkerError):
    """The server reported an error inside a 200 stream (`data: {"error": {...}}`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "server_error")
