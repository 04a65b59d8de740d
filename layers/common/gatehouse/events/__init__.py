"""Lifecycle events: written with the change that causes them (an outbox), then published to the bus."""
