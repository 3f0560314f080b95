"""Trade names (字号) for the companies of a generated load."""

from __future__ import annotations

from collections.abc import Iterator

# Trade names (字号) for generated companies: a first and a second character, auspicious
# and ordinary, chosen so that no pair is a refused word, a place name, or a trade name
# already on the simulated register; past 400 a Chinese numeral follows (丰达二).
_FIRST = "丰泰润康嘉恒德信宏昌福祥安盛兴和益锦新优"
_SECOND = "达源茂隆辉华邦旺顺通利泽荣远诚瀚成峰晟硕"
_NUMERALS = "零一二三四五六七八九"


def _chinese_numeral(n: int) -> str:
    """1–99 in Chinese numerals: 二, 十, 十一, 二十三."""
    tens, units = divmod(n, 10)
    text = ("" if tens == 1 else _NUMERALS[tens]) + "十" if tens else ""
    return text + (_NUMERALS[units] if units else "")


def trade_names() -> Iterator[str]:
    pairs = len(_FIRST) * len(_SECOND)
    for cycle in range(99):
        suffix = _chinese_numeral(cycle + 1) if cycle else ""
        for k in range(pairs):
            first, rest = k % len(_FIRST), k // len(_FIRST)
            yield _FIRST[first] + _SECOND[(first + rest) % len(_SECOND)] + suffix
