"""Host tests of the postgresql role (package: test module names repeat across roles)."""
