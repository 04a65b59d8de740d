"""Health function: GET /health and GET /health/ready (public)."""

from gatehouse.api import create_app, make_handler
from gatehouse.routes.health import router

app = create_app(validation=False)  # no input, answers built as Response objects: nothing to validate
app.include_router(router)
lambda_handler = make_handler(app)
