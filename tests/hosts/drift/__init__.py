"""Host tests of the drift role (package: test module names repeat across roles)."""
