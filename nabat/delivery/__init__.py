"""The delivery engine: queue, workers, retries, rate limits, channel health, metrics."""
