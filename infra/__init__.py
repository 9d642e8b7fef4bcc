"""Deployment and local-stack tooling; never deployed to Lambda."""
