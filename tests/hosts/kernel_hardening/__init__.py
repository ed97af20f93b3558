"""Host tests of the kernel_hardening role (package: test module names repeat across roles)."""
