"""Identities: accounts, roles assigned at units, permissions, authentication."""
