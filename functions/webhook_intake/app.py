"""Webhook intake function: POST /webhooks/{source} (public: the signature is the credential)."""

from gatehouse.api import create_app, make_handler
from gatehouse.routes import webhook_intake

app = create_app()
app.include_router(webhook_intake.router)
lambda_handler = make_handler(app)
