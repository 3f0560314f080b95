"""Tracking filings against their committed deadlines, and keeping every step moving."""
