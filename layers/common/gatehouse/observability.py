"""The Powertools Logger, Tracer and Metrics singletons every API function shares."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="gatehouse")
tracer = Tracer(service="gatehouse")
metrics = Metrics(namespace="Gatehouse", service="gatehouse")
