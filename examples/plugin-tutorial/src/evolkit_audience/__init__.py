"""evolkit-audience: an evolkit plugin that rewrites instructions for a named audience."""
