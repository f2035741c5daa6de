"""The chat agent without any UI: what the server (``idia_core.serve``) and any other front end
talk to.

A message and a session's state go in, replies and the next state come out (``handle``,
``handle_in_order``); ``api_check`` is the stateless ``check``; ``open_link`` starts a session from
a share link. Inside: ``commands`` is the one table of what the agent understands (how each command
is phrased, its handler, whether it is cheap), ``intents`` reads a message's shape, ``controller``
runs the handler, ``flow`` runs a check when it has what it needs, ``verdicts`` and ``replies`` word
the answer, ``session`` and ``share`` keep state and links, ``public`` is the one gate of a public
deployment.
No gradio, no torch at import: the server's mechanics (slots, files, shutdown) live in ``serve``.
"""
from .api import api_check
from .controller import change_setting, handle, handle_in_order
from .public import SPACE_DEFAULT_MODEL, default_model_spec, public_model
from .replies import Reply, Turn, UserMessage, busy_reply, model_label, say
from .session import ChatSession
from .start import close_session, new_session, open_link
from .turns import TurnGate

__all__ = ["ChatSession", "Reply", "SPACE_DEFAULT_MODEL", "Turn", "TurnGate", "UserMessage", "api_check",
           "busy_reply", "change_setting", "close_session", "default_model_spec", "handle", "handle_in_order",
           "model_label", "new_session", "open_link", "public_model", "say"]
