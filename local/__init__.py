"""Gatehouse's local stack: real local services, the HTTP API emulator and the runners."""
