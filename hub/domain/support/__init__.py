"""Support rules (flow 5): tickets, triage, white-label routing, follow-the-sun rota, SLA timers,
incident correlation and escalation to Microsoft. Pure functions; agents stay thin."""
