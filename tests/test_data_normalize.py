"""Properties of `normalize()` (hypothesis) plus its doctest."""

from __future__ import annotations

import doctest
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

import veguard.data.normalize as norm_mod
from veguard.data.normalize import normalize

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
EMOJI = ["🔪", "💣", "🏴", "☠️", "👳🏾", "🇵🇰"]
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
# Mixed text with the things the normaliser must handle mixed in.
rich = st.lists(
    st.one_of(texts, st.sampled_from(list(ZERO_WIDTH) + EMOJI + ["\x00", "\x07", "&amp;",
              "https://t.co/abc", " @abu_x ", "www.example.com/x"])),
    max_size=12).map("".join)


@settings(max_examples=200, deadline=None)
@given(rich)
def test_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=200, deadline=None)
@given(rich)
def test_no_zero_width_or_control_characters(text):
    out = normalize(text)
    assert not any(ch in ZERO_WIDTH for ch in out)
    assert not any(unicodedata.category(ch) == "Cc" for ch in out)
    assert out == out.strip() and "  " not in out


@given(st.sampled_from(EMOJI), st.text(alphabet="abc ", max_size=10))
def test_emoji_kept(emoji, words):
    assert unicodedata.normalize("NFKC", emoji).replace("\ufe0f", "") in normalize(
        f"{words} {emoji} {words}").replace("\ufe0f", "")


@given(st.from_regex(r"[a-z]{1,10}", fullmatch=True), st.from_regex(r"\w{1,15}", fullmatch=True))
def test_urls_and_mentions_replaced(path, handle):
    out = normalize(f"see https://example.com/{path} by @{handle} now")
    assert "[URL]" in out and "example.com" not in out
    assert "@user" in out and f"@{handle}" not in out.replace("@user", "")


def test_doctest_still_true():
    assert doctest.testmod(norm_mod).failed == 0
