"""The attack: the paper's rule as pure functions (``rule``), one run's settings, one check from
photos and a name to an ``IdiaResult`` (``run``, ``result``), and the validity controls on reference
people (``reference``, ``controls``)."""
