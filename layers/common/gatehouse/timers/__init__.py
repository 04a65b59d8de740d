"""Durable timers on EventBridge Scheduler: each fires, its effect happens once, visibly. Knows none of its users."""
