"""Local stand-ins for external systems the hub talks to (real endpoints cannot be reached here)."""
