"""The project's error types.

One exception type carries every "you gave us something we can't use" case, with a message written
for the person who gave it. Front ends map it, not the cause: the CLI to exit code 2, the chat to a
reply, the API to a JSON error. Anything else escaping the core is a bug, not a user mistake.
"""
from __future__ import annotations


class IdiaInputError(ValueError):
    """Input a user can fix. ``code`` is a stable slug (for tests and API clients); ``message`` is
    the sentence a person reads: what was wrong and what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class ModelUnavailableError(IdiaInputError):
    """A model spec that is well formed but cannot be loaded here (not cached and no hub, unknown
    tag, broken files). The message names the model and says how to get it."""
