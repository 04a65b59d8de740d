"""Docs function: GET /openapi.json and GET /docs (public)."""

from gatehouse.api import create_app, make_handler
from gatehouse.routes.docs import mount_docs

app = create_app(validation=False)  # two fixed documents: nothing to validate
mount_docs(app)
lambda_handler = make_handler(app)
