"""Adapters to systems outside the hub (Microsoft Partner Center first), each behind a port."""
