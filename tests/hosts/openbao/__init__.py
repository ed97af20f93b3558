"""Host tests of the openbao role (package: test module names repeat across roles)."""
