"""Campaigns: a lifecycle (SCHEDULED, RUNNING, COMPLETED, CANCELLED) driven by timers, engagements and callers."""
