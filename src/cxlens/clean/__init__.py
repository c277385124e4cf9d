"""Cleaning: normalisation, validation, dedupe and identifier extraction (see docs/cleaning.md)."""
