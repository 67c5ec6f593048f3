"""Meter API names and dimension keys: how events find their meter and price cell."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from meters.naming import (
    API_NAME_PATTERN,
    describe_dimensions,
    dimension_key,
    normalize_api_name,
    parse_dimension_key,
)

# --- normalize_api_name --------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        "llm tokens",
        "LLM Tokens",
        "llm_tokens",
        "llm-tokens",
        "LLM-TOKENS",
        "  llm tokens  ",
        "llm   tokens",
        "llm__tokens",
        "llm--tokens",
        "llm\ttokens",
        "llm - tokens",
        "-llm-tokens-",
        "_llm_tokens_",
    ],
)
def test_the_guides_spellings_all_reach_the_llm_tokens_meter(sent: str) -> None:
    assert normalize_api_name(sent) == "llm-tokens"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("API calls", "api-calls"),
        ("GPT-4o tokens", "gpt-4o-tokens"),
        ("Café calls", "cafe-calls"),
        ("Ångström units", "angstrom-units"),
        ("tokens (v2)", "tokens-v2"),
        ("API & calls", "api-calls"),
        ("storage / GB", "storage-gb"),
        ("seats!", "seats"),
        ("2024 events", "2024-events"),
    ],
)
def test_names_are_lowercased_hyphenated_and_stripped_of_symbols(sent: str, expected: str) -> None:
    assert normalize_api_name(sent) == expected


@pytest.mark.parametrize("sent", ["", "   ", "---", "!!!", "日本"])
def test_a_name_without_letters_or_digits_normalizes_to_empty(sent: str) -> None:
    # Empty matches no meter (api_name may not be empty), so the event is rejected.
    assert normalize_api_name(sent) == ""


@given(st.text(max_size=40))
@example("API & calls")
@example("Ünïcödé -- ünits")
def test_a_normalized_name_is_a_valid_api_name_or_empty(raw: str) -> None:
    normalized = normalize_api_name(raw)
    assert normalized == "" or re.fullmatch(API_NAME_PATTERN, normalized)


@given(st.text(max_size=40))
@example("API & calls")
def test_normalizing_twice_changes_nothing(raw: str) -> None:
    once = normalize_api_name(raw)
    assert normalize_api_name(once) == once


slug_words = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8),
    min_size=1,
    max_size=4,
)


@given(
    words=slug_words,
    separators=st.lists(st.sampled_from([" ", "_", "-", "  ", " - ", "__", "\t"]), min_size=3),
    upper=st.lists(st.booleans(), min_size=4),
)
def test_any_case_or_separator_spelling_of_an_api_name_reaches_it(
    words: list[str], separators: list[str], upper: list[bool]
) -> None:
    api_name = "-".join(words)
    sent = "".join(
        (w.upper() if up else w) + sep
        for w, sep, up in zip(words, [*separators[: len(words) - 1], ""], upper, strict=False)
    )

    assert re.fullmatch(API_NAME_PATTERN, api_name)
    assert normalize_api_name(sent) == api_name


# --- dimension_key -------------------------------------------------------------------------


def test_dimension_key_does_not_depend_on_the_order_dimensions_were_sent() -> None:
    assert (
        dimension_key({"type": "input", "model": "a"})
        == dimension_key({"model": "a", "type": "input"})
        == "model=a&type=input"
    )


def test_no_dimensions_give_the_empty_key() -> None:
    assert dimension_key({}) == ""
    assert parse_dimension_key("") == {}


@pytest.mark.parametrize(
    ("dimensions", "key"),
    [
        ({"model": "gpt 4"}, "model=gpt%204"),
        ({"model": "a+b"}, "model=a%2Bb"),
        ({"model": "a&type=output"}, "model=a%26type%3Doutput"),
        ({"path": "/v1/chat"}, "path=%2Fv1%2Fchat"),
        ({"rate": "50%"}, "rate=50%25"),
        ({"city": "Zürich"}, "city=Z%C3%BCrich"),
        ({"model": ""}, "model="),
        ({"a.b_c-d~": "x"}, "a.b_c-d~=x"),
    ],
)
def test_dimension_values_are_escaped_so_they_cannot_forge_another_dimension(
    dimensions: dict[str, str], key: str
) -> None:
    assert dimension_key(dimensions) == key
    assert parse_dimension_key(key) == dimensions


def test_a_value_containing_separators_differs_from_two_dimensions() -> None:
    assert dimension_key({"model": "a&type=output"}) != dimension_key(
        {"model": "a", "type": "output"}
    )


def test_an_empty_value_differs_from_a_missing_dimension() -> None:
    assert dimension_key({"model": ""}) != dimension_key({})
    assert parse_dimension_key(dimension_key({"model": ""})) == {"model": ""}


dimension_dicts = st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=5)


@given(dimension_dicts)
def test_a_dimension_key_parses_back_to_the_same_dimensions(dimensions: dict[str, str]) -> None:
    assert parse_dimension_key(dimension_key(dimensions)) == dimensions


@given(dimension_dicts, dimension_dicts)
def test_different_dimensions_never_share_a_key(
    first: dict[str, str], second: dict[str, str]
) -> None:
    assert (dimension_key(first) == dimension_key(second)) == (first == second)


@given(dimension_dicts, st.randoms())
def test_the_key_is_the_same_whatever_order_the_dimensions_arrive_in(
    dimensions: dict[str, str], rnd
) -> None:
    items = list(dimensions.items())
    rnd.shuffle(items)
    assert dimension_key(dict(items)) == dimension_key(dimensions)


def test_dimensions_are_described_by_name_as_sent_not_escaped() -> None:
    described = describe_dimensions({"type": "input", "model": "model a"})

    assert described == "model: model a, type: input"
