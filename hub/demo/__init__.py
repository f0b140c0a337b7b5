"""The one-command demo: the whole hub on a local broker, driven by five resellers' month."""
