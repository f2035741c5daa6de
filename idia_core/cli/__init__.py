"""``python -m idia_core …``: ``main`` (check, models), ``audit`` (evaluate, verify) and
``sandbox`` (people, render, evaluate, build)."""
