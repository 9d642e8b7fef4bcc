"""Authentication: passwords (scrypt), signed tokens (PyJWT), the OAuth 1.0a provider, caller identifiers."""
