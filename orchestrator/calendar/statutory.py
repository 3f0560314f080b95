"""The statutory public holidays (法定节假日) the law fixes, for years with no notice yet.

The State Council's yearly notice decides the days off and the make-up working days
(调休), usually in November or December of the year before. What the law itself fixes
(全国年节及纪念日放假办法: 元旦 1 day, 春节 4 days from 除夕, 清明 1, 劳动节 2, 端午 1,
中秋 1, 国庆 3) is known years ahead; only the lunar and solar-term dates need computing,
which python-holidays does (and it knows how the law changed over the years).

Until a year's notice is imported these days, plus weekends, are its provisional
calendar: no make-up days, no bridging days. Anything computed from it is stamped
provisional.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from holidays.countries.china import China

# python-holidays adds two kinds of day that are not statutory: days it moves a holiday
# to when it falls on a weekend ("observed", its own guess; `observed=False` leaves them
# out) and the days off of the notices it has copied (调休, labelled as substituted).
# A notice is ours to import, so those are dropped too.
_LANGUAGE: Final = "zh_CN"


@lru_cache(maxsize=64)
def statutory_days_off(year: int) -> MappingProxyType[date, str]:
    """The statutory holidays of `year`, each with its name (in Chinese)."""
    found = China(years=year, observed=False, language=_LANGUAGE)
    substituted = found.tr(found.substituted_label).split("%s", 1)[0]
    return MappingProxyType(
        {
            day: name
            for day, name in sorted(found.items())
            if day.year == year and not name.startswith(substituted)
        }
    )
