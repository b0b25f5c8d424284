"""Property tests for the Swedish number parser."""

import math

from hypothesis import given, strategies as st

from rapportsok.numbers_sv import format_swedish, parse_number


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
       st.integers(min_value=0, max_value=3),
       st.sampled_from([" ", "\u00a0", "\u2009", "\u202f"]),
       st.sampled_from(["-", "−", "–"]))
def test_format_then_parse_returns_the_number(x, decimals, thousands, minus):
    text = format_swedish(x, decimals, thousands=thousands, minus=minus)
    parsed = parse_number(text)
    assert parsed.value is not None, text
    assert math.isclose(parsed.value, round(x, decimals), abs_tol=10 ** -decimals / 2 + 1e-9), (x, text, parsed)


@given(st.floats(min_value=0, max_value=1000, allow_nan=False), st.integers(min_value=0, max_value=2))
def test_percent_keeps_unit(x, decimals):
    parsed = parse_number(format_swedish(x, decimals) + " %")
    assert parsed.unit == "%" and math.isclose(parsed.value, round(x, decimals), abs_tol=10 ** -decimals)


@given(st.text(max_size=60))
def test_garbage_never_raises(text):
    parsed = parse_number(text)
    assert parsed.value is None or isinstance(parsed.value, float)


def test_examples_from_the_reports():
    cases = {"1 001 935": 1001935, "-11,6": -11.6, "−2 950": -2950, "73 %": 73, "(123)": -123, "2,7*": 2.7,
             "764.2": 764.2, "10.28%": 10.28, "◆ 65 %": 65, "–": None, "-": None, "1.234": None,
             "2022-04-30": None, "12–21 år": None, "höst 2021": None}
    for raw, expected in cases.items():
        assert parse_number(raw).value == expected, raw
