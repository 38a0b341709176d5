"""The plugin manager, manifests and per-township enablement."""
