"""The built-in practice plugins, loaded through the same entry points as outside ones."""
