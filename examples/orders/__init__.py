"""The quick start's workers: an order pipeline of three tasks (sync and async workers mixed)."""
