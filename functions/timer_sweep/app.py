"""Sweep function: every minute, fires overdue timers, recovers lost schedules and relays the outbox."""

from gatehouse.jobs import make_job, sweep_timers

lambda_handler = make_job(sweep_timers, name="TimerSweep")
