"""Host tests of the node_exporter role (package: test module names repeat across roles)."""
