"""The ``sanmin`` command line."""
