"""Adapters to DynamoDB and Redis: the only modules that hold boto3 and redis clients."""
