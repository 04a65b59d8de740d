"""Rate limiting: policies as data, one atomic Redis script per check, overrides, and a local fallback."""
