"""The web application for the sites (FastAPI, server-rendered Jinja2 templates)."""
