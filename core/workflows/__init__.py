"""Workflows: declarative state machines whose instances the core persists (see spec.py)."""
