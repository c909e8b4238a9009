"""Post-processors imported by AISBench config files (accuracy only)."""
