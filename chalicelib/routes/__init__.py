"""Chalice blueprints: the only place besides app.py that imports chalice."""
