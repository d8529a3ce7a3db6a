"""The shared quoting: at most ~100 characters of a value in any message."""

from domain.validation.text import QUOTE_LIMIT, invalid, quote


def test_short_values_are_quoted_whole() -> None:
    assert quote("abc") == "'abc'"
    assert quote(5) == "5"


def test_long_values_are_cut_with_their_length() -> None:
    text = quote("x" * 1_000_000)
    assert len(text) < QUOTE_LIMIT + 40
    assert "1000000 characters" in text


def test_long_reprs_of_other_values_are_cut() -> None:
    assert len(quote({"k" * 500: "v"})) <= QUOTE_LIMIT + 1


def test_invalid_names_the_field_and_quotes_the_value() -> None:
    err = invalid("linux.resources.cpu_period", 1, "must be between 1000 and 1000000")
    assert str(err) == "linux.resources.cpu_period 1: must be between 1000 and 1000000"
