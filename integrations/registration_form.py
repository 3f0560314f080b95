"""The establishment application (设立登记申请) as the registration bureau takes it.

What the bureau's form can hold is the bureau's fact, shared here as a WSDL is shared: the
simulated bureau refuses past it, and OneStop's intake refuses at the counter what the
bureau would otherwise refuse only once the filing reached it.
"""

from __future__ import annotations

CAPITAL_YUAN_DIGITS = 13
"""Registered capital is written in yuan with two decimals and at most this many digits
before the point."""

MAX_REGISTERED_CAPITAL_FEN = 10 ** (CAPITAL_YUAN_DIGITS + 2) - 1
"""The largest registered capital the form can hold, in fen."""

CAPITAL_YUAN_PATTERN = rf"^[0-9]{{1,{CAPITAL_YUAN_DIGITS}}}\.[0-9]{{2}}$"
"""The capital as the form writes it: "1000000.00"."""
