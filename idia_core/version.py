"""The version of idia, recorded in every report and evidence bundle (``provenance``)."""
__version__ = "0.1.0"
