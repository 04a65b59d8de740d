"""Identity: the Lambda authorizer's JWT and API-key verification, scopes, and the API-key domain.

Nothing is imported here on purpose: the authorizer imports only the submodules it needs,
so that `import gatehouse.auth.authorizer` never pulls pydantic or Powertools (cold start).
"""
