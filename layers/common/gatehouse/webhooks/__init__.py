"""Webhook intake: sources, signature schemes, the durable intake, processing and replay (docs/webhooks.md)."""
