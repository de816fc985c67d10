"""Views fail closed, without a database: a view renders only its declared fields at every
depth, whatever the row carries, and a role without a view gets nothing — case or event."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, get_origin

import pytest

from app.schemas.case_views import CASE_VIEWS, View, _nested_view, case_view_for
from app.schemas.events import event_payload_for
from app.vocabulary import Role

SECRET = "SECRET-NARRATIVE"


class Inner(View):
    kept: str


class Outer(View):
    name: str
    one: Inner
    maybe: Inner | None
    many: list[Inner]


def test_nested_views_keep_only_their_fields_at_every_depth() -> None:
    inner = {"kept": "k", "leak": SECRET}
    rendered = Outer.render(
        {"name": "n", "one": inner, "maybe": inner, "many": [inner], "leak": SECRET}
    )
    assert rendered == {
        "name": "n",
        "one": {"kept": "k"},
        "maybe": {"kept": "k"},
        "many": [{"kept": "k"}],
    }
    assert Outer.render({"name": "n", "one": inner, "maybe": None, "many": []})["maybe"] is None


def test_a_record_in_a_field_not_declared_as_a_view_raises() -> None:
    with pytest.raises(TypeError):
        Outer.render({"name": {"kept": "k"}, "one": {"kept": "k"}, "maybe": None, "many": []})


def _stuffed(view: type[View]) -> dict[str, Any]:
    """A row for this view with an undeclared field at every depth (every nested view's
    fields, each in a list of one for a list)."""
    row: dict[str, Any] = {"undeclared": SECRET}
    for name, field in view.model_fields.items():
        nested = _nested_view(field.annotation)
        if nested is None:
            row[name] = "x"
        elif get_origin(field.annotation) is list:
            row[name] = [_stuffed(nested)]
        else:
            row[name] = _stuffed(nested)
    return row


def _stuffed_case(role: Role) -> dict[str, Any]:
    return _stuffed(CASE_VIEWS[role])


@pytest.mark.parametrize("role", list(CASE_VIEWS))
def test_every_case_view_drops_what_it_does_not_declare(role: Role) -> None:
    rendered = case_view_for(role).render(_stuffed_case(role))
    assert SECRET not in repr(rendered)
    assert set(rendered) == set(CASE_VIEWS[role].model_fields)


@pytest.mark.parametrize("role", [Role.manager, Role.admin, "auditor"])
def test_a_role_without_a_view_gets_nothing(role: Role) -> None:
    row = _stuffed_case(Role.caseworker)
    assert case_view_for(role).render(row) == {}
    payload = {"reason": SECRET, "transit_country": "CRI", "changed": ["referral_source"]}
    assert event_payload_for(role, Role.caseworker, payload) == {}


def test_unhcr_sees_the_whole_payload_and_officers_their_cut() -> None:
    payload = {"reason": SECRET, "transit_country": "CRI", "decision": "accepted"}
    assert event_payload_for(Role.supervisor, Role.resettlement_officer, payload) == payload
    assert event_payload_for(Role.transit_officer, Role.resettlement_officer, payload) == {
        "transit_country": "CRI"
    }


def test_the_view_types_are_not_changed_by_rendering() -> None:
    when = datetime(2020, 1, 1, tzinfo=UTC)
    rendered = Inner.render({"kept": when})
    assert rendered["kept"] is when
    assert Inner.render({"kept": date(2020, 1, 1)}) == {"kept": date(2020, 1, 1)}
    assert Inner.render({"kept": uuid.UUID(int=1)}) == {"kept": uuid.UUID(int=1)}
