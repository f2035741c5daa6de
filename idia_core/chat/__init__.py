"""The chat agent without any UI: ``intents`` parses a message, ``session`` holds one browser
session's state, ``controller`` turns (message, state) into replies and the next state, ``share``
encodes and decodes share links. The gradio app (``app.py``) only renders what comes out.

Nothing is imported here, so ``idia_core.explain`` and the CLI can import parts without the rest."""
