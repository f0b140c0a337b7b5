"""Faust agents, one module per flow: decode, call the domain, send, dead-letter."""
