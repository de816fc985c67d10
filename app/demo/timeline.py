"""One demo case's life, planned in memory: the dated actions it goes through, by whom, as a
household identified on a given day would plausibly meet them (assessment, four-eyes review,
submission, the states' decisions, transit in Costa Rica, departure, arrival — or a closure on
the way). Deterministic: each case draws from a random stream of its own (``seeded``)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from app.demo import names
from app.services.actions import TRANSIT_DAYS

STATES = ("USA", "CAN", "AUS", "BRA", "URY")
TRANSIT_COUNTRY = "CRI"

CASEWORKER, SUPERVISOR = "caseworker", "supervisor"
TRANSIT_OFFICER = f"transit_officer:{TRANSIT_COUNTRY}"

#: Order of actions recorded on one day, so that same-day actions replay in a valid order.
RANK = {
    action: rank
    for rank, action in enumerate(
        (
            "create",
            "start_assessment",
            "return_to_assessment",
            "request_review",
            "submit",
            "withdraw_submission",
            "resubmit",
            "request_transit",
            "refuse_transit",
            "authorise_transit",
            "record_transit_entry",
            "decide",
            "provide_information",
            "extend_transit",
            "update_requirement",
            "record_departure",
            "confirm_arrival",
            "close",
            "reopen",
        )
    )
}
T = TypeVar("T")


def seeded(seed: int, *parts: object) -> random.Random:
    """A random stream of its own for one purpose (and one case): what one case draws never
    shifts what another draws, so a later "today" leaves earlier cases exactly as they were."""
    return random.Random(":".join(map(str, (seed, *parts))))  # noqa: S311 (not for secrets)


def officer(country: str) -> str:
    return f"resettlement_officer:{country}"


@dataclass(frozen=True)
class PlannedStep:
    """One action: when it is taken (the ``now`` of the service call), by whom, and the body
    of ``POST /cases/{id}/transitions``."""

    at: datetime
    actor: str
    command: dict[str, Any]

    @property
    def action(self) -> str:
        return str(self.command["action"])


@dataclass
class CasePlan:
    key: str
    identified_at: date
    origin: str
    pathway: str
    priority: str
    referral_source: str
    protection_summary: str
    created_at: datetime
    steps: list[PlannedStep]
    size: int = 1
    members: list[dict[str, Any]] = field(default_factory=list)
    #: a split decision: the state accepts all but the last ``split_off`` members, and a
    #: supervisor moves those to a new case (split_case) right after
    split_off: int = 0
    #: a person registered before (plan.py ``_register_twice``): the key of the earlier
    #: plan, and the reason possible duplicates gives for the pair
    registered_before: tuple[str, str] | None = None

    def creation(self) -> dict[str, Any]:
        """The body of ``POST /cases``."""
        return {
            "origin_country": self.origin,
            "pathway": self.pathway,
            "processing_priority": self.priority,
            "referral_source": self.referral_source,
            "protection_summary": self.protection_summary,
            "identified_at": self.identified_at,
            "members": self.members,
        }

    @property
    def first_submitted_at(self) -> date | None:
        return next((s.at.date() for s in self.steps if s.action == "submit"), None)

    @property
    def resettled_at(self) -> date | None:
        arrival = next((s for s in self.steps if s.action == "confirm_arrival"), None)
        if arrival is None:
            return None
        day: date = arrival.command["arrived_at"]
        return day


def pick(rng: random.Random, weights: dict[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _days(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(days=rng.randint(low, high))


def workday(day: date) -> date:
    """Offices act on weekdays: a Saturday or Sunday moves to the Monday after."""
    return day + timedelta(days=(7 - day.weekday()) % 7 if day.weekday() >= 5 else 0)


@dataclass(order=True)
class _Event:
    day: date
    rank: int
    actor: str = field(compare=False)
    command: dict[str, Any] = field(compare=False)


class _Timeline:
    """Builds the dated actions of one case. Decisions and the transit stay run side by side
    after submission; the first closure cuts everything after it."""

    def __init__(self, rng: random.Random, identified: date) -> None:
        self.rng = rng
        self.identified = identified
        self.events: list[_Event] = []
        self.closure: list[_Event] | None = None  # the earliest closure, first event first
        self.pathway = "transit" if rng.random() < 0.8 else "in_country"
        self.priority = pick(rng, {"normal": 70, "urgent": 25, "emergency": 5})
        self.category = pick(
            rng,
            {
                "legal_physical_protection_needs": 45,
                "survivors_violence_torture": 14,
                "women_girls_at_risk": 15,
                "children_adolescents_at_risk": 12,
                "medical_needs": 5,
                "family_reunification": 3,
                "lack_of_alternative_durable_solutions": 6,
            },
        )
        self.created = identified + timedelta(days=rng.choice((0, 0, 0, 0, 0, 1, 2, 3, 6)))

    def add(self, day: date, actor: str, action: str, **fields: Any) -> date:
        self.events.append(_Event(day, RANK[action], actor, {"action": action, **fields}))
        return day

    def close_at(self, day: date, reason: str, *before: _Event) -> None:
        """A closure candidate: the earliest one wins (``before`` are actions just ahead of it
        that belong to it, such as the withdrawal of the submission)."""
        note = names.CLOSURE_NOTES.get(reason)
        close = _Event(day, RANK["close"], SUPERVISOR, {"action": "close", "reason": reason})
        if note is not None and self.rng.random() < 0.6:
            close.command["note"] = note
        chain = [*before, close]
        if self.closure is None or chain[0] < self.closure[0]:
            self.closure = chain

    # Identification: assessment, review (four eyes), first submission.
    def identification(self) -> date | None:
        """The day of the first submission, or None when the case ends before it."""
        rng = self.rng
        fate = pick(
            rng,
            {
                None: 49,
                "not_recommended": 17,
                "lost_contact": 9,
                "withdrawn_by_applicant": 7,
                "onward_movement": 4,
                "no_longer_at_risk": 4,
                "other": 2,
                "deceased": 0.4,
            },
        )
        stage = pick(rng, {"identified": 1, "assessment": 5, "pending_review": 4})
        if fate == "not_recommended":
            stage = pick(rng, {"assessment": 1, "pending_review": 2})
        day = self.created

        def ends(at: str) -> bool:
            nonlocal fate, day
            if fate is None or stage != at:
                return False
            day = workday(day + _days(rng, 5, 60))
            self.add(day, SUPERVISOR, "close", reason=fate)
            if fate == "lost_contact" and rng.random() < 0.25:
                day = workday(day + _days(rng, 30, 200))
                self.add(day, SUPERVISOR, "reopen", reason=rng.choice(names.REOPEN_REASONS))
                fate = None
                return False
            return True

        if ends("identified"):
            return None
        day = self.add(workday(day + _days(rng, 0, 21)), CASEWORKER, "start_assessment")
        if ends("assessment"):
            return None
        day = self.add(workday(day + _days(rng, 45, 180)), CASEWORKER, "request_review")
        for _ in range(2):
            if rng.random() >= 0.12:
                break
            reason = rng.choice(names.RETURN_REASONS)
            day = self.add(
                workday(day + _days(rng, 2, 20)), SUPERVISOR, "return_to_assessment", reason=reason
            )
            day = self.add(workday(day + _days(rng, 10, 45)), CASEWORKER, "request_review")
        if ends("pending_review"):
            return None
        country = self.state(day, set())
        day = self.submit(workday(day + _days(rng, 3, 25)), "submit", country)
        if rng.random() < 0.05:  # withdrawn soon after: a mistake, or the applicant's wish
            reason = pick(rng, {"error": 3, "applicant_request": 2, "exceptional": 1})
            day = workday(day + _days(rng, 5, 30))
            self.add(day, SUPERVISOR, "withdraw_submission", reason=reason)
            if reason == "applicant_request":
                self.add(
                    workday(day + _days(rng, 3, 30)),
                    SUPERVISOR,
                    "close",
                    reason="withdrawn_by_applicant",
                )
                return None
            again = self.state(day, {country}) if reason == "error" else country
            day = self.submit(workday(day + _days(rng, 3, 60)), "submit", again)
            self.country = again
        return day

    def state(self, day: date, exclude: set[str]) -> str:
        if day.year <= 2017:
            weights = {"USA": 55, "CAN": 15, "AUS": 15, "BRA": 8, "URY": 7}
        elif day.year <= 2020:
            weights = {"USA": 25, "CAN": 30, "AUS": 20, "BRA": 13, "URY": 12}
        else:
            weights = {"USA": 45, "CAN": 25, "AUS": 12, "BRA": 9, "URY": 9}
        self.country = pick(self.rng, {k: v for k, v in weights.items() if k not in exclude})
        return self.country

    def submit(self, day: date, action: str, country: str) -> date:
        rng = self.rng
        secondary = rng.choice([c for c in names.PROTECTION_SUMMARIES if c != self.category])
        priority = (
            self.priority if rng.random() < 0.85 else rng.choice(("normal", "urgent", "emergency"))
        )
        return self.add(
            day,
            SUPERVISOR,
            action,
            resettlement_country=country,
            submission_priority=priority,
            primary_category=self.category,
            secondary_category=secondary,
        )

    # After submission: the states' decisions, the transit stay, departure and arrival.
    def decisions(self, start: date) -> date | None:
        """Decisions until one state accepts (its day) or the case is denied for good."""
        rng, country, day, denied = self.rng, self.country, start, set[str]()
        while True:
            day = workday(day + self.decision_delay(country, day))
            if rng.random() < 0.10:
                reason = rng.choice(names.ON_HOLD_REASONS)
                self.add(day, officer(country), "decide", decision="on_hold", reason=reason)
                day = workday(day + _days(rng, 30, 150))
            accept = {"USA": 0.78, "CAN": 0.86, "AUS": 0.8, "BRA": 0.9, "URY": 0.9}[country]
            if rng.random() < accept:
                return self.add(day, officer(country), "decide", decision="accepted")
            reason = rng.choice(names.DENIAL_REASONS)
            self.add(day, officer(country), "decide", decision="denied", reason=reason)
            denied.add(country)
            if len(denied) < 3 and rng.random() < 0.7:
                country = self.state(day, denied)
                day = self.submit(workday(day + _days(rng, 14, 60)), "resubmit", country)
                continue
            self.close_at(workday(day + _days(rng, 10, 45)), "denied_no_resubmission")
            return None

    def decision_delay(self, country: str, day: date) -> timedelta:
        """Days a state takes to decide: the USA slowed down from 2018 to 2020."""
        usa = (200, 420) if day.year <= 2017 else (260, 560) if day.year <= 2020 else (180, 420)
        low, high = {
            "USA": usa,
            "CAN": (150, 330),
            "AUS": (180, 400),
            "BRA": (90, 240),
            "URY": (90, 240),
        }[country]
        return _days(self.rng, low, high)

    def transit(self, start: date) -> tuple[date, date]:
        """Request, authorisation and entry: (the entry date, the day it was recorded)."""
        rng = self.rng
        day = self.add(
            workday(start + _days(rng, 3, 30)),
            CASEWORKER,
            "request_transit",
            transit_country=TRANSIT_COUNTRY,
        )
        if rng.random() < 0.03:
            reason = rng.choice(names.REFUSAL_REASONS)
            day = self.add(
                workday(day + _days(rng, 5, 20)), TRANSIT_OFFICER, "refuse_transit", reason=reason
            )
            day = self.add(
                workday(day + _days(rng, 20, 60)),
                CASEWORKER,
                "request_transit",
                transit_country=TRANSIT_COUNTRY,
            )
        note = rng.choice(names.AUTHORISATION_NOTES) if rng.random() < 0.3 else None
        fields = {"note": note} if note else {}
        day = self.add(
            workday(day + _days(rng, 5, 25)), TRANSIT_OFFICER, "authorise_transit", **fields
        )
        entered = day + _days(rng, 7, 40)
        recorded = workday(entered + timedelta(days=rng.choice((0, 0, 0, 1, 2, 3))))
        self.add(recorded, TRANSIT_OFFICER, "record_transit_entry", entered_at=entered)
        return entered, recorded

    def departure(self, ready: date) -> date:
        """Departure and arrival once accepted (and in transit): the departure record day."""
        rng = self.rng
        departed = ready + _days(rng, 50, 160 if self.pathway == "transit" else 180)
        if date(2020, 3, 16) <= departed <= date(2020, 10, 31):  # travel suspended
            departed = date(2020, 11, 2) + _days(rng, 0, 90)
        who = (
            pick(rng, {TRANSIT_OFFICER: 5, CASEWORKER: 3, SUPERVISOR: 2})
            if self.pathway == "transit"
            else pick(rng, {CASEWORKER: 3, SUPERVISOR: 1})
        )
        recorded = departed + timedelta(days=rng.choice((0, 0, 0, 1, 2, 5)))
        self.add(recorded, who, "record_departure", departed_at=departed)
        arrived = departed + timedelta(days=rng.choice((0, 0, 1)))
        lag = rng.choice((0, 0, 1, 2, 3, 7, 14, 30))
        confirmer = officer(self.country) if rng.random() < 0.7 else SUPERVISOR
        self.add(
            max(arrived, recorded) + timedelta(days=lag),
            confirmer,
            "confirm_arrival",
            arrived_at=arrived,
        )
        return recorded

    def hazard(self, start: date, submission_ends: Callable[[date], bool]) -> None:
        """Sometimes the household leaves the process while it waits."""
        rng = self.rng
        if rng.random() >= (0.11 if self.pathway == "transit" else 0.07):
            return
        reason = pick(
            rng,
            {
                "lost_contact": 30,
                "onward_movement": 30 if self.pathway == "transit" else 8,
                "withdrawn_by_applicant": 25,
                "no_longer_at_risk": 5,
                "other": 7,
                "deceased": 2,
            },
        )
        day = workday(start + _days(rng, 20, 420))
        if reason == "withdrawn_by_applicant" and not submission_ends(day) and rng.random() < 0.6:
            withdraw = _Event(
                day,
                RANK["withdraw_submission"],
                SUPERVISOR,
                {"action": "withdraw_submission", "reason": "applicant_request"},
            )
            self.close_at(workday(day + _days(rng, 2, 14)), reason, withdraw)
        else:
            self.close_at(day, reason)

    def stay(self, entered: date, recorded: date, end: date) -> None:
        """Extensions while the household waits in transit past its authorised stay; a few are
        recorded late (an overstay meanwhile), and a few stays run out (closed)."""
        rng, until = self.rng, entered + timedelta(days=TRANSIT_DAYS)
        while until < end:
            if rng.random() < 0.05:
                expired = workday(until + _days(rng, 10, 60))
                if expired < end:
                    self.close_at(expired, "transit_expired")
                return
            late = rng.random() < 0.08
            day = workday(until + (_days(rng, 1, 40) if late else -_days(rng, 0, 30)))
            day = max(day, recorded + timedelta(days=1))
            if day >= end:
                return
            until += timedelta(days=rng.choice((90, 180, 180, 180)))
            self.add(day, TRANSIT_OFFICER, "extend_transit", authorised_until=until)

    def build(self) -> list[_Event]:
        submitted = self.identification()
        if submitted is not None:
            accepted = self.decisions(submitted)
            entry = self.transit(submitted) if self.pathway == "transit" else None
            self.hazard(submitted, self._submission_ended)
            end = date.max
            if accepted is not None:
                ready = max(accepted, entry[1]) if entry else accepted
                end = self.departure(ready)
            if self.closure is not None and self.closure[0].day >= end:
                self.closure = None  # the household left for resettlement first
            if self.closure is not None:
                end = self.closure[0].day
            if entry is not None:
                self.stay(entry[0], entry[1], end)
        events = sorted(self.events)
        if self.closure is not None:
            cut = self.closure[0]
            events = [e for e in events if e < cut] + self.closure
        return events

    def _submission_ended(self, day: date) -> bool:
        """Whether the latest submission is decided (accepted or denied) on this day."""
        decided = [
            e for e in self.events if e.command["action"] in ("decide", "resubmit") and e.day <= day
        ]
        decided.sort()
        return bool(decided) and decided[-1].command.get("decision") in ("accepted", "denied")


def _timed(rng: random.Random, events: Sequence[_Event]) -> list[PlannedStep]:
    """Give each action a time in Central American office hours (UTC-6), increasing through
    the day and always within the same UTC date."""
    steps: list[PlannedStep] = []
    previous: datetime | None = None
    for event in events:
        start = datetime.combine(event.day, time(14, 0), UTC) + timedelta(
            minutes=rng.randint(0, 300)
        )
        if previous is not None and previous.date() == event.day:
            start = max(start, previous + timedelta(minutes=rng.randint(3, 40)))
            start = min(start, datetime.combine(event.day, time(23, 59), UTC))
        steps.append(PlannedStep(start, event.actor, event.command))
        previous = start
    return steps


def plan_case(seed: int, key: str, identified: date, origin: str, today: date) -> CasePlan | None:
    """One case's plan, cut at ``today`` (actions on or after it have not happened yet)."""
    rng = seeded(seed, "case", key)
    timeline = _Timeline(rng, identified)
    create = _Event(timeline.created, RANK["create"], CASEWORKER, {"action": "create"})
    events = [create, *timeline.build()]
    from app.demo import arrangements  # it builds on this module's steps and actors

    timed = _timed(rng, events)
    # requests for information and the checklist, from a stream of their own (the rest of the
    # plan, figures included, stays as it was)
    arranged = arrangements.arrange(seeded(seed, "arrangements", key), timed, timeline.pathway)
    steps = [s for s in arranged if s.at.date() < today]
    if not steps:
        return None
    summary = rng.choice(names.PROTECTION_SUMMARIES[timeline.category])
    return CasePlan(
        key=key,
        identified_at=identified,
        origin=origin,
        pathway=timeline.pathway,
        priority=timeline.priority,
        referral_source=rng.choice(names.REFERRAL_SOURCES[origin]),
        protection_summary=summary,
        created_at=steps[0].at,
        steps=steps[1:],
    )
