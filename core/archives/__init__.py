"""Resident archives (民情档案): households and persons, with ID numbers encrypted at rest,
masked on read unless the actor may see them, and every unmasked read audited."""
