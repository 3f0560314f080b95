"""How a working time counts in the figures: its day's summary row, its histogram bucket,
and whether it was within 0.5, 1 and 3 working days.

One place, so that a fold of live filings and `onestop history`, which writes the summary
of the history it makes, count alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from orchestrator.feedback.service import BAD_SCORE

# The promises the figures measure against, in working days (the reform's 0.5 to 3).
WITHIN_DAYS = (0.5, 1.0, 3.0)
# The histogram counts whole working hours up to this one; its bucket holds the rest too
# (5 working days with the default 7-hour day: past any district's promise).
LAST_HOUR = 35
_HOUR = 3600

TimeKey = tuple[date, str, int, str]  # day, district, branch, subject
HoursKey = tuple[date, str, int, int]  # day, district, branch, hours
RatingKey = tuple[date, str, int]  # day, district, branch


def hours_bucket(seconds: int) -> int:
    """The histogram bucket of a working time: its whole hours, at most `LAST_HOUR`."""
    return min(seconds // _HOUR, LAST_HOUR)


def is_good(score: int) -> bool:
    """Whether a rating counts as good: any score that opens no follow-up."""
    return score > BAD_SCORE


@dataclass
class Tally:
    """Summary rows being counted, for working days of `day_seconds` seconds."""

    day_seconds: int
    # Plain dicts, not defaultdicts of lambdas: a tally crosses processes (`onestop history`).
    times: dict[TimeKey, list[int]] = field(default_factory=dict)
    hours: dict[HoursKey, int] = field(default_factory=dict)
    ratings: dict[RatingKey, list[int]] = field(default_factory=dict)

    def time(
        self, day: date, district: str, branch: int, subject: str, seconds: int, *, hist: bool
    ) -> None:
        """Count one working time of `subject` ended on `day` (in the histogram if `hist`)."""
        key = (day, district, branch, subject)
        row = self.times.get(key)
        if row is None:
            row = self.times[key] = [0, 0, 0, 0, 0]
        row[0] += 1
        for i, days in enumerate(WITHIN_DAYS, start=1):
            if seconds <= days * self.day_seconds:
                row[i] += 1
        row[4] += seconds
        if hist:
            bucket = (day, district, branch, hours_bucket(seconds))
            self.hours[bucket] = self.hours.get(bucket, 0) + 1

    def rating(self, day: date, district: str, branch: int, score: int) -> None:
        """Count one rating given on `day`."""
        row = self.ratings.setdefault((day, district, branch), [0, 0])
        row[0] += 1
        row[1] += is_good(score)

    def merge(self, other: Tally) -> None:
        """Add the counts of `other` to these."""
        for key, values in other.times.items():
            row = self.times.setdefault(key, [0, 0, 0, 0, 0])
            for i, value in enumerate(values):
                row[i] += value
        for bucket, n in other.hours.items():
            self.hours[bucket] = self.hours.get(bucket, 0) + n
        for day_key, (count, good) in other.ratings.items():
            rated = self.ratings.setdefault(day_key, [0, 0])
            rated[0] += count
            rated[1] += good

    def day_rows(self) -> list[dict[str, Any]]:
        """The `supervision_day` rows."""
        return [
            {
                "day": day,
                "district_code": district,
                "branch_id": branch,
                "subject": subject,
                "count": count,
                "within_half_day": half,
                "within_one_day": one,
                "within_three_days": three,
                "working_seconds": seconds,
            }
            for (day, district, branch, subject), (count, half, one, three, seconds) in (
                self.times.items()
            )
        ]

    def hours_rows(self) -> list[dict[str, Any]]:
        """The `supervision_hours` rows."""
        return [
            {"day": d, "district_code": district, "branch_id": b, "hours": h, "count": n}
            for (d, district, b, h), n in self.hours.items()
        ]

    def rating_rows(self) -> list[dict[str, Any]]:
        """The `supervision_ratings` rows."""
        return [
            {"day": d, "district_code": district, "branch_id": b, "count": n, "good": good}
            for (d, district, b), (n, good) in self.ratings.items()
        ]
