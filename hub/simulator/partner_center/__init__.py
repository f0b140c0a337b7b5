"""The Partner Center simulator: a local HTTP server speaking Microsoft's resource shapes."""
