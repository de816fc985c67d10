"""The synthetic demo data set, planned in memory (no database): which cases exist, who is in
each household, and every dated action each case goes through, by whom.

Pure and deterministic: one seed and one "today" give one plan. Cases identified up to
``WINDOW_END`` depend on the seed only, never on "today", so the published figures for
2016-01-01…2019-09-30 are reproduced exactly whatever day the data is loaded: household sizes
of those cases are balanced so that the people identified, first submitted and resettled in the
window are ``PUBLISHED``. Later cases run up to yesterday, some still in progress.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from app.demo.people import household
from app.demo.timeline import SUPERVISOR, CasePlan, PlannedStep, pick, plan_case, seeded, workday
from app.services.actions import TRANSIT_DAYS
from app.vocabulary import DuplicateReason

PROGRAMME_START = date(2016, 7, 1)
WINDOW_START = date(2016, 1, 1)
WINDOW_END = date(2019, 9, 30)
#: The programme's published people figures between WINDOW_START and WINDOW_END.
PUBLISHED = {"identified": 3757, "submitted": 1746, "resettled": 689}

ORIGINS = {"SLV": 0.58, "HND": 0.27, "GTM": 0.15}
#: Household sizes, as weights: about 3.5 people a case.
SIZE_WEIGHTS = {1: 16, 2: 16, 3: 20, 4: 20, 5: 13, 6: 9, 7: 6}


def _intake_rate(month: date) -> float:
    """New cases a month: growing to 2019, few during the 2020 pandemic, steady since."""
    if month <= WINDOW_END:
        return {2016: 15, 2017: 24, 2018: 31, 2019: 35}[month.year]
    if month.year == 2019:
        return 20
    if month.year == 2020:
        return 2 if 4 <= month.month <= 9 else 6
    return 7


def _intake(seed: int, stream: str, start: date, end: date) -> list[tuple[date, str]]:
    """(identification day, origin) of the cases identified from ``start`` to ``end``: each
    month's draws depend on that month only, so a later ``end`` extends the list."""
    rng = seeded(seed, "intake", stream)
    found: list[tuple[date, str]] = []
    month = start.replace(day=1)
    while month <= end:
        following = (month + timedelta(days=32)).replace(day=1)
        for _ in range(round(_intake_rate(month) * rng.uniform(0.8, 1.2))):
            day = workday(month + timedelta(days=rng.randrange((following - month).days)))
            origin = pick(rng, ORIGINS)
            if start <= day <= end:
                found.append((day, origin))
        month = following
    return sorted(found)


def _balance(rng: random.Random, count: int, people: int) -> list[int]:
    """``count`` household sizes (1–7) drawn from the usual spread, then nudged one person at
    a time until they add up to ``people``."""
    if not count <= people <= 7 * count:
        raise ValueError(f"cannot spread {people} people over {count} households")
    sizes = rng.choices(list(SIZE_WEIGHTS), weights=list(SIZE_WEIGHTS.values()), k=count)
    while (gap := people - sum(sizes)) != 0:
        index = rng.randrange(count)
        if gap > 0 and sizes[index] < 7:
            sizes[index] += 1
        elif gap < 0 and sizes[index] > 1:
            sizes[index] -= 1
    return sizes


def window_people(plans: Sequence[CasePlan], start: date, end: date) -> dict[str, int]:
    """People who reached each stage between ``start`` and ``end`` (the cumulative funnel)."""

    def within(day: date | None) -> bool:
        return day is not None and start <= day <= end

    return {
        "identified": sum(p.size for p in plans if within(p.identified_at)),
        "submitted": sum(p.size for p in plans if within(p.first_submitted_at)),
        "resettled": sum(p.size for p in plans if within(p.resettled_at)),
    }


@dataclass(frozen=True)
class Now:
    """Where a planned case stands at the end of its plan."""

    status: str
    authorised_until: date | None


def standing(plan: CasePlan) -> Now:
    status, before, until = "identified", "identified", None
    for step in plan.steps:
        action, command = step.action, step.command
        if action in ("start_assessment", "return_to_assessment"):
            status = "assessment"
        elif action == "request_review" or (
            action == "withdraw_submission" and status == "submitted"
        ):
            status = "pending_review"
        elif action == "submit":
            status = "submitted"
        elif action == "record_transit_entry":
            status, until = "in_transit", command["entered_at"] + timedelta(days=TRANSIT_DAYS)
        elif action == "extend_transit":
            until = command["authorised_until"]
        elif action == "record_departure":
            status = "departed"
        elif action == "confirm_arrival":
            status = "resettled"
        elif action == "close":
            status, before = "closed", status
        elif action == "reopen":
            status = before
    return Now(status, until if status == "in_transit" else None)


def _situations(today: date) -> dict[str, Callable[[Now], bool]]:
    """Situations a newcomer should find among the open cases, and how many of each at least."""
    soon = today + timedelta(days=29)
    return {
        "identified": lambda n: n.status == "identified",
        "assessment": lambda n: n.status == "assessment",
        "pending_review": lambda n: n.status == "pending_review",
        "submitted": lambda n: n.status == "submitted",
        "in_transit": lambda n: n.status == "in_transit",
        "ending_soon": lambda n: (
            n.authorised_until is not None and today < n.authorised_until <= soon
        ),
        "overstay": lambda n: (
            n.authorised_until is not None and n.authorised_until < today - timedelta(days=1)
        ),
        "departed": lambda n: n.status == "departed",
    }


#: Candidates tried per situation before giving up (only a clock set before 2021 runs out).
TOP_UP_ATTEMPTS = 20_000
SITUATION_MINIMUM = {
    "identified": 3,
    "assessment": 5,
    "pending_review": 3,
    "submitted": 5,
    "in_transit": 10,
    "ending_soon": 3,
    "overstay": 3,
    "departed": 2,
}


def _top_up(
    seed: int, today: date, plans: list[CasePlan], origin_rng: random.Random
) -> list[CasePlan]:
    """Recent cases added until every situation of SITUATION_MINIMUM is present today."""
    situations = _situations(today)
    counts = dict.fromkeys(situations, 0)
    for plan in plans:
        now = standing(plan)
        for name, holds in situations.items():
            counts[name] += holds(now)
    earliest = max(WINDOW_END + timedelta(days=1), today - timedelta(days=1100))
    span = (today - timedelta(days=7) - earliest).days
    added: list[CasePlan] = []
    for name, holds in situations.items():
        missing = SITUATION_MINIMUM[name] - counts[name]
        for attempt in range(TOP_UP_ATTEMPTS):
            if missing <= 0:
                break
            identified = workday(earliest + timedelta(days=origin_rng.randrange(max(span, 1))))
            origin = pick(origin_rng, ORIGINS)
            found = plan_case(seed, f"{name}:{attempt}", identified, origin, today)
            if identified >= today or found is None or not holds(standing(found)):
                continue
            added.append(found)
            missing -= 1
    return added


def build_plan(seed: int, today: date) -> list[CasePlan]:
    """Every case of the demo data set, oldest first, with its household."""
    window = [
        plan
        for index, (day, origin) in enumerate(_intake(seed, "window", PROGRAMME_START, WINDOW_END))
        if (plan := plan_case(seed, f"w{index}", day, origin, today)) is not None
    ]
    identified_only = [p for p in window if not _submitted_by(p, WINDOW_END)]
    submitted_only = [
        p for p in window if _submitted_by(p, WINDOW_END) and not _resettled_by(p, WINDOW_END)
    ]
    resettled = [p for p in window if _resettled_by(p, WINDOW_END)]
    sizes = seeded(seed, "sizes")
    target = PUBLISHED
    for group, people in (
        (identified_only, target["identified"] - target["submitted"]),
        (submitted_only, target["submitted"] - target["resettled"]),
        (resettled, target["resettled"]),
    ):
        for plan, size in zip(group, _balance(sizes, len(group), people), strict=True):
            plan.size = size
    later = [
        plan
        for index, (day, origin) in enumerate(
            _intake(seed, "later", WINDOW_END + timedelta(days=1), today - timedelta(days=1))
        )
        if (plan := plan_case(seed, f"l{index}", day, origin, today)) is not None
    ]
    later += _top_up(seed, today, later, seeded(seed, "top-up", today))
    for plan in later:
        plan.size = seeded(seed, "size", plan.key).choices(
            list(SIZE_WEIGHTS), weights=list(SIZE_WEIGHTS.values())
        )[0]
    _split_some(seeded(seed, "splits"), later)
    plans = sorted(window + later, key=lambda p: (p.created_at, p.identified_at))
    for plan in plans:
        plan.members = household(
            seeded(seed, "household", plan.key),
            plan.size,
            plan.origin,
            plan.identified_at,
        )
    _register_twice(seeded(seed, "registered twice"), plans)
    return plans


#: People registered twice, so that possible duplicates have something to find: the one
#: member of a later case is a person registered alone at least a year earlier — the same
#: names written without accents, a typing slip in a family name, the same identity document
#: written differently — one for each reason, in this order. Only later cases change, so the
#: published window stays exactly as it is.
REGISTERED_TWICE = (
    DuplicateReason.name_and_date_of_birth,
    DuplicateReason.similar_name_and_birth_year,
    DuplicateReason.document_number,
)
#: Where a caseworker checks for duplicates: before submitting.
BEFORE_SUBMISSION = ("identified", "assessment", "pending_review")
IDENTITY = ("given_name", "family_name", "sex", "date_of_birth", "dob_estimated", "nationality")


def _register_twice(rng: random.Random, plans: list[CasePlan]) -> None:
    """Make REGISTERED_TWICE come true: each later case of one person (those still before
    submission first, newest first) takes the identity of an earlier case of one person of
    the same origin, still at most 70 years old."""
    singles = [plan for plan in plans if plan.size == 1]
    later = sorted(
        (plan for plan in singles if plan.identified_at > WINDOW_END),
        key=lambda plan: (
            standing(plan).status not in BEFORE_SUBMISSION,
            -plan.created_at.timestamp(),
        ),
    )
    taken: set[str] = set()
    for reason, again in zip(REGISTERED_TWICE, later, strict=False):
        first_seen = [
            plan
            for plan in singles
            if plan.key not in taken
            and plan.origin == again.origin
            and plan.identified_at <= again.identified_at - timedelta(days=365)
            and _age(plan.members[0]["date_of_birth"], again.identified_at) <= 70
            and (
                reason is not DuplicateReason.document_number or plan.members[0]["document_number"]
            )
        ]
        if not first_seen:
            continue
        earlier = rng.choice(first_seen)
        taken |= {earlier.key, again.key}
        person = {name: earlier.members[0][name] for name in IDENTITY}
        document = None
        if reason is DuplicateReason.name_and_date_of_birth:
            person["given_name"] = _unaccented(person["given_name"])
            person["family_name"] = _unaccented(person["family_name"])
        elif reason is DuplicateReason.similar_name_and_birth_year:
            person["family_name"] = _slip(person["family_name"])
        else:
            document = _rewritten(earlier.members[0]["document_number"])
        again.members[0] = {**again.members[0], **person, "document_number": document}
        again.registered_before = (earlier.key, str(reason))


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _unaccented(text: str) -> str:
    """As typed on a keyboard without accents: José Núñez → Jose Nunez."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def _slip(family_name: str) -> str:
    """The third letter of the longest surname left out: Hernández → Henández."""
    surnames = family_name.split()
    longest = max(range(len(surnames)), key=lambda i: len(surnames[i]))
    word = surnames[longest]
    surnames[longest] = word[:2] + word[3:]
    return " ".join(surnames)


def _rewritten(document: str) -> str:
    """The same number as another clerk writes it: without its separators, or with a dash
    before the last two characters when it had none (case ignored too)."""
    bare = document.replace("-", "").replace(" ", "")
    return bare.lower() if bare != document else f"{bare[:-2]}-{bare[-2:]}".lower()


#: How many later cases get a split decision, resolved by split_case (cases identified after
#: WINDOW_END only: the published figures stay exact without depending on how splits count).
SPLITS = 4
SPLIT_REASON = (
    "The resettlement state accepted part of the household; the members it did not accept "
    "continue as a case of their own."
)


def _split_some(rng: random.Random, plans: list[CasePlan]) -> None:
    """A few households of three or more whose acceptance leaves out the last one or two
    members: the acceptance names the others, and a supervisor splits the case a few minutes
    later (before anything else happens to it)."""
    candidates = []
    for plan in plans:
        accepted = [
            i
            for i, step in enumerate(plan.steps)
            if step.action == "decide" and step.command.get("decision") == "accepted"
        ]
        if plan.size < 3 or not accepted:
            continue
        index = accepted[-1]
        at = plan.steps[index].at + timedelta(minutes=2)
        following = plan.steps[index + 1 :]
        if at.date() != plan.steps[index].at.date() or (following and following[0].at <= at):
            continue
        candidates.append((plan, index, at))
    for plan, index, at in rng.sample(candidates, min(SPLITS, len(candidates))):
        plan.split_off = rng.randint(1, plan.size - 2)
        command = {"action": "split_case", "reason": SPLIT_REASON}
        plan.steps.insert(index + 1, PlannedStep(at, SUPERVISOR, command))


def _submitted_by(plan: CasePlan, end: date) -> bool:
    return plan.first_submitted_at is not None and plan.first_submitted_at <= end


def _resettled_by(plan: CasePlan, end: date) -> bool:
    return plan.resettled_at is not None and plan.resettled_at <= end
