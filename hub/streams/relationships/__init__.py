"""The relationships flow (customer onboarding and MCA attestation, GDAP, and their checks in
the order intake and escalation); its agents are wired in ``flow.register``."""
