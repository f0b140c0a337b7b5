"""The webhook bridge: delivers each reseller's partner-topic events to its HTTP endpoints,
signed per the Standard Webhooks spec, retried, logged, replayable (``hub webhooks``)."""
