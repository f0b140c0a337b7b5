"""Relationship rules: customer onboarding and agreement attestation, GDAP, transfers, drift.

Pure logic only (no I/O); the flow in ``hub/streams/relationships/`` applies it.
"""
