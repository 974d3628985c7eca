"""cloudkit's local provider: every family served from a root folder on this machine."""
