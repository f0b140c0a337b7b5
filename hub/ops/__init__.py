"""Local operations tooling: the broker from Maven jars, process supervision."""
