"""Host tests of the prometheus role (package: test module names repeat across roles)."""
