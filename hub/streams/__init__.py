"""Faust agents, one package per flow: decode, call the domain, send, dead-letter."""
