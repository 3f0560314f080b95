"""The market-supervision officers' figures: how long filings and steps take in working
time, 容缺 outstanding, 好差评; district-scoped, filtered by branch and period.

`models` holds the daily summary the time figures are read from, `fold` keeps it current
from the filings, `figures` computes what the API and the dashboard show.
"""
