"""Image references: what runs is exactly what was reviewed."""
