"""`onestop history`: a realistic history of filings written straight into PostgreSQL, for
demonstrations and for benchmarking the supervision figures at a million filings."""

from orchestrator.tools.history.run import (
    HistoryOptions,
    HistoryRefused,
    HistoryReport,
    check_database,
    write_history,
)

__all__ = ["HistoryOptions", "HistoryRefused", "HistoryReport", "check_database", "write_history"]
