"""Measured figures for checkout-bot: `python -m benchmarks` (see benchmarks/README.md)."""
