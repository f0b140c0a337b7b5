"""Azure plan consumption: versioned usage facts, rating, budgets, anomalies, reconciliation.

Pure logic only (no I/O): the consumption flow (hub/streams/consumption/) calls it.
"""
