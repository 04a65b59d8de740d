"""Request and area metrics: per-minute buckets in Redis, read back as a summary or as Prometheus text."""
