"""Utility names imported by AISBench config files."""
