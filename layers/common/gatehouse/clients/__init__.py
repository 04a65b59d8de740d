"""Connection factories: the boto3 and Redis clients every adapter is given, one per process."""
