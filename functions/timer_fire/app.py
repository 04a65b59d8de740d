"""Timer function: EventBridge Scheduler delivers one timer firing per invocation (at least once)."""

from gatehouse.jobs import fire_timer, make_job

lambda_handler = make_job(fire_timer, name="TimerDelivery")
