"""Console function: GET /console and its static assets (public; docs/console.md)."""

from gatehouse.api import create_app, make_handler
from gatehouse.routes.console import mount_console

app = create_app()
mount_console(app)
lambda_handler = make_handler(app)
