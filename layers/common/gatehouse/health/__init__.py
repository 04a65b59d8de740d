"""Liveness and readiness in application/health+json (draft-inadarei-api-health-check)."""
