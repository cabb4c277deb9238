"""Data quality: check, near duplicates and stats."""
