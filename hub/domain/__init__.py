"""Pure business rules of the hub: no framework, broker, HTTP or file I/O imports here."""
