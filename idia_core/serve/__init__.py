"""The server: what a running app shares between visitors (``server.Server``: compute slots, fair
admission, sessions' uploads and history, idle reaping, shutdown, start-up warm-up), and every
reach into gradio's internals (``gradio_internals``). It uses the agent (``chat``); no gradio import."""
