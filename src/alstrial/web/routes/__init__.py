"""The web application's routes, one module per area; each module exposes ``router``."""
