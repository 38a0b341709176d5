"""The core version that plugin manifests' ``requires_core`` is checked against."""

__version__ = "0.1.0"
