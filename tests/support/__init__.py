"""Test support: the session broker, end-to-end helpers, samples, the reliability checker
and crash cuts (not shipped in the hub package)."""
