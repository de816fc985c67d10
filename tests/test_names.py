"""The normalisation of names and document numbers, as a table (no database)."""

from __future__ import annotations

import pytest

from app.services.names import document_key, fold, name_key, one_slip_apart, person_key, words

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
    ("",                        []),
]
NAME_KEYS = [
    ("María de la Cruz",        "mariacruz"),
    ("Hernández López",         "hernandezlopez"),
    ("Hernandez-Lopez",         "hernandezlopez"),
    ("hernández  lópez",        "hernandezlopez"),
    ("De Los Santos",           "santos"),
    ("Ortega y Gasset",         "ortegagasset"),
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
