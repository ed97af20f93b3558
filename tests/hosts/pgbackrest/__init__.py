"""Host tests of the pgbackrest role (package: test module names repeat across roles)."""
