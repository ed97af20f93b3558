"""Host tests of the logship role (package: test module names repeat across roles)."""
