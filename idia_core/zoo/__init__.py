"""The model zoo: which models exist (``specs``, ``catalogue``), where their weights come from
(``hub``), how each is built exactly as trained (``build``, ``fingerprints``), the loaded model
with its two encoders (``model``, ``encoding``), and one load per process (``load``)."""
