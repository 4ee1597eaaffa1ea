"""The one helper that quotes a reader's words back: short, escaped, isolated."""

from __future__ import annotations

from bot.handlers.common import ECHO_MAX, echo
from bot.i18n import texts


def test_a_long_input_is_cut_at_a_word_with_an_ellipsis_and_escaped() -> None:
    t = texts("en")
    quoted = echo(t, "Kirkuk <b>oil</b> & gas " * 200)
    assert quoted.endswith("…")
    assert len(quoted.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")) <= ECHO_MAX
    assert "<b>" not in quoted and "&lt;b&gt;" in quoted
    assert echo(t, "Kirkuk <b>", html=False) == "Kirkuk <b>"  # escaped later by its caller


def test_short_input_is_kept_whole_on_one_line_and_isolated_where_direction_differs() -> None:
    assert echo(texts("en"), "Europe/\nBerlin") == "Europe/ Berlin"
    sorani = echo(texts("en"), "هەولێر")
    assert sorani == "\u2068هەولێر\u2069"
    assert echo(texts("ar"), "Erbil") == "\u2068Erbil\u2069"
