"""Filings: what a clerk enters once, its validation and its materials assessment."""
