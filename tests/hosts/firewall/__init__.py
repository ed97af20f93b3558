"""Host tests of the firewall role (package: test module names repeat across roles)."""
