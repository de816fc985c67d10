"""The normalisation of names and document numbers, as a table (no database)."""

from __future__ import annotations

from datetime import date
from itertools import product

import pytest

from app.services.names import (
    blocks_within_one_slip,
    document_key,
    fold,
    member_keys,
    name_blocks,
    name_key,
    one_slip_apart,
    person_key,
    search_tokens,
    search_words,
    words,
)

# fmt: off
WORDS = [
    ("José Hernández",          ["jose", "hernandez"]),
    ("NÚÑEZ",                   ["nunez"]),
    ("Güell",                   ["guell"]),
    ("María de la Cruz",        ["maria", "de", "la", "cruz"]),
    ("García-López",            ["garcia", "lopez"]),
    ("D'Arcy",                  ["darcy"]),
    ("O’Neill",                 ["oneill"]),
    ("  Ana   María ",          ["ana", "maria"]),
    ("ﬁdel",                    ["fidel"]),           # NFKD unfolds the ligature
    ("Ñandú",                   ["nandu"]),
    ("Peña y Lillo",            ["pena", "y", "lillo"]),
    ("Jean-Noël",               ["jean", "noel"]),
    ("Søren Łukasz",            ["søren", "łukasz"]),      # letters that do not decompose stay
    ("Ana_María",               ["ana", "maria"]),
    ("María-José (Majo)",       ["maria", "jose", "majo"]),
    ("Xoc 2",                   ["xoc", "2"]),
    ("",                        []),
]
NAME_KEYS = [
    ("María de la Cruz",        "mariacruz"),
    ("Hernández López",         "hernandezlopez"),
    ("Hernandez-Lopez",         "hernandezlopez"),
    ("hernández  lópez",        "hernandezlopez"),
    ("De Los Santos",           "santos"),
    ("Ortega y Gasset",         "ortegagasset"),
    ("Del Cid",                 "cid"),
    ("Las Casas",               "casas"),
]
#: (query, the words each of which must start a word of one member's names)
QUERIES = [
    ("José Hern",               ["hern", "jose"]),          # longest first
    ("jose jose",               ["jose"]),
    ("jo jose",                 ["jose"]),                  # "jo" starts "jose": nothing more
    ("de la Cruz",              ["cruz", "de", "la"]),      # particles are words in a search
    ("d'arcy",                  ["darcy"]),
    ("--",                      []),
]
DOCUMENTS = [
    ("A123-456 789",            "A123456789"),
    ("a 123 456 789",           "A123456789"),
    ("A–123–456",               "A123456"),           # en dashes too
    (" - ",                     None),
    (None,                      None),
]
SLIPS = [
    ("hernandez",   "hernandez",    True),             # the same
    ("hernandez",   "hernandes",    True),             # one changed
    ("hernandez",   "hernandezz",   True),             # one added
    ("hernandez",   "hernndez",     True),             # one removed
    ("hernandez",   "hernadnez",    True),             # two neighbours swapped
    ("hernandez",   "hernadnes",    False),            # two slips
    ("maria",       "mario",        True),
    ("maria",       "marco",        False),
]
# fmt: on


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_search_words(query: str, expected: list[str]) -> None:
    assert search_words(query) == expected


def test_search_tokens_are_every_start_of_every_word() -> None:
    assert search_tokens("José", "de la Peña") == "d de j jo jos jose l la p pe pen pena"
    assert search_tokens("Ana", "Ana") == "a an ana"


def test_member_keys() -> None:
    keys = member_keys("María José", "Hernández López", date(1980, 5, 6), "DUI 0123-4")
    assert keys.words.split()[:3] == ["h", "he", "her"]
    assert keys.document == "DUI01234"
    assert keys.names == "maria jose hernandez lopez"
    key = "mariajosehernandezlopez"  # 23 letters: thirds of 7, 7 and 7, the 8th and 16th out
    head, middle, tail = "mariajo", "ehernan", "ezlopez"
    assert (key[:7], key[8:15], key[16:]) == (head, middle, tail)
    assert (keys.name_head, keys.name_ends, keys.name_tail) == (
        f"1980:23:{head}|{middle}",
        f"1980:23:{head}|{tail}",
        f"1980:23:{middle}|{tail}",
    )


def _one_slip_variants(text: str, alphabet: str) -> set[str]:
    out = set()
    for i in range(len(text)):
        out.add(text[:i] + text[i + 1 :])
        out |= {text[:i] + c + text[i + 1 :] for c in alphabet}
    for i in range(len(text) + 1):
        out |= {text[:i] + c + text[i:] for c in alphabet}
    for i in range(len(text) - 1):
        out.add(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
    return out - {""}


def test_a_name_one_slip_away_always_shares_a_block() -> None:
    """Every name within one slip of another (all of them, for every key of up to seven letters
    over three letters: each kind of slip at each place) has one of the blocks the other looks
    up — so looking possible duplicates up by block misses none."""
    born = date(1990, 1, 1)
    for length in range(1, 8):
        for letters in product("abc", repeat=length):
            key = "".join(letters)
            heads, ends, tails = blocks_within_one_slip(key, born)
            for other in _one_slip_variants(key, "abc") | {key}:
                assert one_slip_apart(key, other)
                head, both_ends, tail = name_blocks(other, born)
                assert head in heads or both_ends in ends or tail in tails, (key, other)


def test_blocks_carry_the_birth_year() -> None:
    assert name_blocks("anaruiz", date(1990, 1, 1)) != name_blocks("anaruiz", date(1991, 1, 1))


@pytest.mark.parametrize(("text", "expected"), WORDS)
def test_words(text: str, expected: list[str]) -> None:
    assert words(text) == expected


@pytest.mark.parametrize(("text", "expected"), NAME_KEYS)
def test_name_keys_leave_out_particles_spaces_and_accents(text: str, expected: str) -> None:
    assert name_key(text) == expected


@pytest.mark.parametrize(("number", "expected"), DOCUMENTS)
def test_document_keys(number: str | None, expected: str | None) -> None:
    assert document_key(number) == expected


@pytest.mark.parametrize(("first", "second", "expected"), SLIPS)
def test_one_typing_slip(first: str, second: str, expected: bool) -> None:
    assert one_slip_apart(first, second) is expected
    assert one_slip_apart(second, first) is expected


def test_a_person_is_given_and_family_names_together() -> None:
    assert person_key("José", "Hernández López") == "josehernandezlopez"
    assert fold("ÀÉÎÕÜ") == "aeiou"
