"""The demo's requests for information and departure checklists, added to a case's timed
plan from a random stream of their own: the actions, days and people of the plan stay exactly
as they were, so the published figures do not move.

A state sometimes asks a question while it considers a submission (UNHCR answers a few weeks
later, before the state decides); after an acceptance UNHCR sets due dates, and the state, the
transit country and UNHCR clear the items before the household leaves. Cases still waiting
today have some items done and others pending — a few of them past their due date."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from app.demo import names
from app.demo.timeline import CASEWORKER, SUPERVISOR, TRANSIT_OFFICER, PlannedStep
from app.vocabulary import RequirementItem

#: Who clears each item (domain.md: the accepting state's officer, the transit officer of
#: the active stay, or UNHCR); ``None``: the accepting state's officer.
CLEARED_BY: dict[RequirementItem, str | None] = {
    RequirementItem.medical_clearance: None,
    RequirementItem.security_clearance: None,
    RequirementItem.exit_permit: TRANSIT_OFFICER,
    RequirementItem.travel_document: None,
    RequirementItem.cultural_orientation: CASEWORKER,
    RequirementItem.travel_booked: None,
}
#: Days after the acceptance each item is usually due, and done.
DUE_AFTER = {
    RequirementItem.medical_clearance: 30,
    RequirementItem.security_clearance: 45,
    RequirementItem.exit_permit: 50,
    RequirementItem.travel_document: 40,
    RequirementItem.cultural_orientation: 35,
    RequirementItem.travel_booked: 60,
}
#: Actions that end a submission's consideration / a checklist's use.
SUBMISSION_ENDS = frozenset({"decide", "withdraw_submission", "close", "resubmit"})
CHECKLIST_ENDS = frozenset({"record_departure", "close", "withdraw_submission"})


def _at(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(14, 0), UTC) + timedelta(minutes=rng.randint(0, 300))


def _questions(rng: random.Random, steps: Sequence[PlannedStep]) -> list[PlannedStep]:
    """Now and then a state's question on a pending submission, answered before it decides."""
    extra: list[PlannedStep] = []
    for index, step in enumerate(steps):
        if step.action not in ("submit", "resubmit") or rng.random() >= 0.12:
            continue
        country = step.command["resettlement_country"]
        after = next((s for s in steps[index + 1 :] if s.action in SUBMISSION_ENDS), None)
        if after is None or after.actor != f"resettlement_officer:{country}":
            continue  # only before the state's own decision
        start, end = step.at.date(), after.at.date()
        if (end - start).days < 40:
            continue
        asked = start + timedelta(days=rng.randint(14, (end - start).days - 20))
        answered = asked + timedelta(days=rng.randint(3, min(30, (end - asked).days - 3)))
        extra.append(
            PlannedStep(
                _at(rng, asked),
                after.actor,
                {
                    "action": "decide",
                    "decision": "information_requested",
                    "reason": rng.choice(names.INFORMATION_QUESTIONS),
                },
            )
        )
        extra.append(
            PlannedStep(
                _at(rng, answered),
                rng.choice((CASEWORKER, SUPERVISOR)),
                {"action": "provide_information", "note": rng.choice(names.INFORMATION_ANSWERS)},
            )
        )
    return extra


def _checklist(rng: random.Random, steps: Sequence[PlannedStep], pathway: str) -> list[PlannedStep]:
    """The checklist of the case's acceptance: due dates set soon after it, each item done
    (or, for orientation, now and then waived) before the departure is recorded."""
    accepted = next(
        (s for s in steps if s.action == "decide" and s.command["decision"] == "accepted"), None
    )
    if accepted is None:
        return []
    later = [s for s in steps if s.at > accepted.at]
    end = next((s for s in later if s.action in CHECKLIST_ENDS), None)
    entry = next((s for s in later if s.action == "record_transit_entry"), None)
    state, start = accepted.actor, accepted.at.date() + timedelta(days=1)
    last = end.at.date() - timedelta(days=1) if end is not None else date.max
    if end is not None and end.action == "record_departure":  # done before they left
        last = min(last, end.command["departed_at"])
    extra: list[PlannedStep] = []
    for item, who in CLEARED_BY.items():
        due = start + timedelta(days=DUE_AFTER[item] + rng.randint(-5, 15))
        if due <= last and rng.random() < 0.6:
            extra.append(
                PlannedStep(
                    _at(rng, start + timedelta(days=rng.randint(0, 4))),
                    CASEWORKER,
                    {"action": "update_requirement", "item": item, "due_on": due},
                )
            )
        actor = state if who is None else who
        first = start + timedelta(days=5)
        if who == TRANSIT_OFFICER:
            if pathway != "transit":
                actor = CASEWORKER  # no transit country: UNHCR arranges the exit itself
            elif entry is not None:
                first = max(first, entry.at.date() + timedelta(days=1))
        done = min(due + timedelta(days=rng.randint(-20, 25)), last)
        if end is None:
            done = max(done, first)  # still waiting today: this may lie after today
        if done < first:
            continue  # a closure came first: the item stays pending
        command: dict[str, str | date]
        if item is RequirementItem.cultural_orientation and rng.random() < 0.15:
            command = {"status": "waived", "note": rng.choice(names.WAIVER_NOTES)}
        else:
            command = {"status": "done", "done_on": done}
        extra.append(
            PlannedStep(
                _at(rng, done),
                actor,
                {"action": "update_requirement", "item": item, **command},
            )
        )
    return [s for s in extra if end is None or s.at < end.at]


def arrange(rng: random.Random, steps: Sequence[PlannedStep], pathway: str) -> list[PlannedStep]:
    """The plan's steps with its requests for information and its checklist, in time order."""
    extra = _questions(rng, steps) + _checklist(rng, steps, pathway)
    merged: list[PlannedStep] = []
    for step in sorted([*steps, *extra], key=lambda step: step.at):
        if merged and step.at <= merged[-1].at:  # one moment, one action
            step = PlannedStep(merged[-1].at + timedelta(seconds=1), step.actor, step.command)
        merged.append(step)
    return merged
