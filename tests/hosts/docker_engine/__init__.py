"""Host tests of the docker_engine role (package: test module names repeat across roles)."""
