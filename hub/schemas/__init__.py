"""Event contracts of the hub: Avro schemas, the pydantic models that mirror them, the codec."""
