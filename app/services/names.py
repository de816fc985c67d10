"""How names and document numbers are compared, in one place (search and possible duplicates,
domain.md): Unicode NFKD with the accents dropped and case folded (José → jose, Núñez → nunez,
Güell → guell), words split at spaces, hyphens and other punctuation (an apostrophe joins:
D'Arcy → darcy), so compound family names ("García-López", "de la Cruz") are words of their
own. Keys for comparing two people leave out the particles (de, del, la, las, los, y) and every
space, so "María de la Cruz" and "Maria Cruz", or "Hernández López" and "Hernandez-Lopez", are
the same name. A typing slip is one letter added, removed or changed, or two neighbours swapped
(optimal string alignment distance 1, computed by rapidfuzz).
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import OSA

#: Spanish particles of compound family names: part of a name for search, not for comparing.
PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e"})
_APOSTROPHES = re.compile(r"['’ʼ`´]")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_DOCUMENT_IGNORED = re.compile(r"[\s\-‐-―]+")


def fold(text: str) -> str:
    """Lower case without accents: NFKD, combining marks dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.casefold()


def words(text: str) -> list[str]:
    """The searchable words of a name (or of a query), folded, in order."""
    joined = _APOSTROPHES.sub("", fold(text))
    return [word for word in _NOT_WORD.split(joined) if word]


def name_key(text: str) -> str:
    """A name for comparing people: its words without particles, with no spaces."""
    return "".join(word for word in words(text) if word not in PARTICLES)


def person_key(given_name: str, family_name: str) -> str:
    """Given and family names together, as compared for duplicates."""
    return name_key(given_name) + name_key(family_name)


def document_key(number: str | None) -> str | None:
    """A document number with case, spaces and dashes ignored; None when nothing is left."""
    if number is None:
        return None
    key = _DOCUMENT_IGNORED.sub("", number).upper()
    return key or None


def one_slip_apart(first: str, second: str) -> bool:
    """Within one typing slip of each other (identical counts too)."""
    return OSA.distance(first, second, score_cutoff=1) <= 1
