"""Invented households for the demo data: plausible ages, sexes, Spanish double surnames,
relationships to the principal applicant, nationalities and identity document numbers."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from app.demo import names

NEIGHBOURS = {
    "SLV": ("HND", "GTM", "NIC"),
    "HND": ("SLV", "NIC", "GTM"),
    "GTM": ("SLV", "HND", "MEX"),
}
HND_MUNICIPALITIES = ("0801", "0501", "0502", "0101", "0301", "1801", "0601", "0506")


def _surname(rng: random.Random, origin: str) -> str:
    pool = names.LOCAL_SURNAMES.get(origin, ())
    return rng.choice(pool) if pool and rng.random() < 0.3 else rng.choice(names.COMMON_SURNAMES)


def _given(rng: random.Random, sex: str, born: int, taken: set[str]) -> str:
    """A given name of the person's generation that nobody else in the household has."""
    female = sex == "female" or (sex == "other" and rng.random() < 0.5)
    pool: tuple[str, ...]
    if born >= 1998:
        pool = names.YOUNG_FEMALE if female else names.YOUNG_MALE
    else:
        pool = names.ADULT_FEMALE if female else names.ADULT_MALE
    name = rng.choice(pool)
    while name in taken:
        name = rng.choice(pool)
    taken.add(name)
    return name


def _document(rng: random.Random, nationality: str, born: date, age: int) -> str | None:
    """A national identity number for most adults, a passport for a few children."""
    if age < 18:
        return f"{nationality[0]}{rng.randint(10**7, 10**8 - 1)}" if rng.random() < 0.08 else None
    if rng.random() >= 0.62:
        return None
    if nationality == "SLV":  # DUI: eight digits and a check digit
        digits = [rng.randint(0, 9) for _ in range(8)]
        check = (10 - sum(d * (9 - i) for i, d in enumerate(digits)) % 10) % 10
        return f"{''.join(map(str, digits))}-{check}"
    if nationality == "HND":  # DNI: municipality, year of birth, registration number
        return f"{rng.choice(HND_MUNICIPALITIES)}-{born.year}-{rng.randint(1, 99999):05d}"
    if nationality == "GTM":  # DPI (CUI): number, check digit, department and municipality
        number = rng.randint(10**7, 10**8 - 1)
        place = f"{rng.randint(1, 22):02d}{rng.randint(1, 17):02d}"
        return f"{number // 10000:04d} {number % 10000:04d}{rng.randint(0, 9)} {place}"
    return f"{nationality[0]}{rng.randint(10**7, 10**8 - 1)}"


def _member(
    rng: random.Random,
    *,
    identified: date,
    age: int,
    sex: str,
    surnames: tuple[str, str],
    nationality: str,
    relationship: str,
    taken: set[str],
) -> dict[str, Any]:
    estimated = rng.random() < (0.15 if age >= 50 else 0.03)
    if estimated:  # only the year is known: recorded as 1 January, still ``age`` years old
        born = date(identified.year - age, 1, 1)
    else:
        born = identified - timedelta(days=age * 365 + rng.randint(0, 364) + age // 4)
    born_year = born.year
    return {
        "is_principal": relationship == "principal",
        "given_name": _given(rng, sex, born_year, taken),
        "family_name": " ".join(surnames),
        "sex": sex,
        "date_of_birth": born,
        "dob_estimated": estimated,
        "nationality": nationality,
        "relationship": relationship,
        "document_number": _document(rng, nationality, born, age),
    }


def household(rng: random.Random, size: int, origin: str, identified: date) -> list[dict[str, Any]]:
    """``size`` members, the principal applicant first."""
    taken: set[str] = set()
    others = size - 1
    spouse = others > 0 and rng.random() < (0.3 if size == 2 else 0.6)
    others -= spouse
    parent = others > 0 and rng.random() < 0.1
    others -= parent
    siblings = min(others, rng.choice((1, 1, 2))) if others > 0 and rng.random() < 0.1 else 0
    others -= siblings
    grandchildren = min(others - 1, rng.choice((1, 2))) if others >= 2 and rng.random() < 0.1 else 0
    children = others - grandchildren

    if size == 1:
        sex = rng.choices(("male", "female", "other"), (53, 45, 2))[0]
        age = rng.randint(18, 35) if rng.random() < 0.85 else rng.randint(36, 64)
    else:
        sex = "female" if rng.random() < (0.45 if spouse else 0.8) else "male"
        low = 19 + 2 * max(0, children - 2)
        age = max(low, round(rng.triangular(low, 56, 31)))
    if grandchildren:
        age = max(age, rng.randint(38, 60))
    if parent:
        age = min(age, 50)
    first, second = _surname(rng, origin), _surname(rng, origin)
    member = _member(
        rng,
        identified=identified,
        taken=taken,
        age=age,
        sex=sex,
        surnames=(first, second),
        nationality=origin,
        relationship="principal",
    )
    members = [member]

    partner_surnames = (_surname(rng, origin), _surname(rng, origin))
    partner_nationality = origin if rng.random() < 0.92 else rng.choice(NEIGHBOURS[origin])
    if spouse:
        partner_sex = {"female": "male", "male": "female"}.get(sex, "male")
        if rng.random() < 0.02:
            partner_sex = sex if sex != "other" else "female"
        married = rng.random() < 0.4 and partner_sex != sex
        members.append(
            _member(
                rng,
                identified=identified,
                taken=taken,
                age=max(18, age + rng.randint(-6, 8 if sex == "female" else 3)),
                sex=partner_sex,
                surnames=partner_surnames,
                nationality=partner_nationality,
                relationship="spouse" if married else "partner",
            )
        )
    # Children take the father's first surname, then the mother's.
    if sex == "male":
        child_surnames = (first, partner_surnames[0] if spouse else _surname(rng, origin))
    elif spouse or rng.random() < 0.6:
        child_surnames = (partner_surnames[0], first)
    else:
        child_surnames = (first, second)
    oldest = min(age - 16, 24)
    for age_child in sorted(
        (rng.randint(0, max(0, oldest)) for _ in range(children)), reverse=True
    ):
        nationality = origin
        if spouse and partner_nationality != origin and rng.random() < 0.3:
            nationality = partner_nationality
        elif age_child < 15 and rng.random() < 0.02:
            nationality = "MEX"
        members.append(
            _member(
                rng,
                identified=identified,
                taken=taken,
                age=age_child,
                sex=rng.choice(("female", "male")),
                surnames=child_surnames,
                nationality=nationality,
                relationship="stepchild" if spouse and rng.random() < 0.08 else "child",
            )
        )
    for _ in range(grandchildren):
        members.append(
            _member(
                rng,
                identified=identified,
                taken=taken,
                age=rng.randint(0, max(0, age - 36)),
                sex=rng.choice(("female", "male")),
                surnames=(_surname(rng, origin), child_surnames[0]),
                nationality=origin,
                relationship="grandchild",
            )
        )
    if parent:
        mother = rng.random() < 0.75
        members.append(
            _member(
                rng,
                identified=identified,
                taken=taken,
                age=min(88, age + rng.randint(18, 34)),
                sex="female" if mother else "male",
                surnames=(second if mother else first, _surname(rng, origin)),
                nationality=origin,
                relationship="parent",
            )
        )
    for _ in range(siblings):
        members.append(
            _member(
                rng,
                identified=identified,
                taken=taken,
                age=max(1, age + rng.randint(-12, 8)),
                sex=rng.choice(("female", "male")),
                surnames=(first, second),
                nationality=origin,
                relationship="sibling",
            )
        )
    return members
