"""``python -m idia_core …``: ``main`` (check, models), ``audit`` (evaluate, verify),
``people_audit`` (audit, audit-merge, occurrences) and ``sandbox`` (people, render, captions,
evaluate, build)."""
