"""Use cases: what the API and the site do, independent of Chalice."""
