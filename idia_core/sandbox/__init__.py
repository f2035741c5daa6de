"""The sandbox: a synthetic world of people (``world``), drawn by a procedural renderer
(``renderer``), and the small CLIP trained on it (``train``; shipped in ``model/``), so every
verdict of the attack can be checked against the truth, offline. ``world`` and ``renderer`` need
no torch; ``train`` does. Its ground-truth evaluation is ``idia_core.audit.sandbox_eval``."""
