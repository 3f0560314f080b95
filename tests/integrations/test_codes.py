"""The national code standards and the registration form's limits, shared by OneStop, its
adapters and the simulated agencies: digits are 0-9, whatever else a keyboard can type."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.adapter import yuan_text
from integrations.codes import gb11643_check_char, is_ascii_digits, luhn_check_digit
from integrations.registration_form import CAPITAL_YUAN_PATTERN, MAX_REGISTERED_CAPITAL_FEN
from tests.factories import resident_id


class TestAsciiDigits:
    @given(text=st.text(max_size=20))
    def test_is_exactly_one_or_more_of_0_to_9(self, text: str) -> None:
        assert is_ascii_digits(text) == bool(re.fullmatch(r"[0-9]+", text, flags=re.ASCII))

    @pytest.mark.parametrize("text", ["٣٧", "३७", "３７", "²", "3²", ""])
    def test_refuses_what_str_isdigit_alone_would_take(self, text: str) -> None:
        assert not is_ascii_digits(text)

    @pytest.mark.parametrize(
        "digits",
        ["٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "०१२३४५६७८९"],
        ids=["arabic-indic", "full-width", "devanagari"],
    )
    def test_a_resident_id_body_in_other_digits_has_no_check_character(self, digits: str) -> None:
        body = resident_id(date(1985, 3, 14))[:17]
        with pytest.raises(ValueError):
            gb11643_check_char(body.translate(str.maketrans("0123456789", digits)))

    def test_luhn_takes_the_digits_0_to_9_only(self) -> None:
        assert luhn_check_digit("7992739871") == "3"
        with pytest.raises(ValueError):
            luhn_check_digit("٧٩٩٢٧٣٩٨٧١")


class TestRegistrationForm:
    def test_the_largest_capital_fills_the_form(self) -> None:
        assert re.fullmatch(CAPITAL_YUAN_PATTERN, yuan_text(MAX_REGISTERED_CAPITAL_FEN))
        assert yuan_text(MAX_REGISTERED_CAPITAL_FEN) == "9999999999999.99"

    def test_one_fen_more_does_not_fit(self) -> None:
        assert not re.fullmatch(CAPITAL_YUAN_PATTERN, yuan_text(MAX_REGISTERED_CAPITAL_FEN + 1))
