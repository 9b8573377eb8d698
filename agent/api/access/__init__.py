"""Access control for the HTTP API: keys, client tokens, Origin, rate and size limits."""
