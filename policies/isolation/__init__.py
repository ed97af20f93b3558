"""Container isolation: a compromised service stays inside its container."""
