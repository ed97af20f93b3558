"""Resource limits and health: one service cannot starve the host or hide a dead process."""
