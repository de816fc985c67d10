"""Schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

The OpenAPI document states every rule JSON Schema can state. A few rules depend on the day,
on other parameters or on what is stored, and no schema can say them; a request generated as
*valid* ("positive") is brought within them here, so that the positive_data_acceptance check
still judges everything else. Requests generated as invalid ("negative") are never touched.

- dates that must not lie in the future (date_of_birth, identified_at, entered_at, …) are
  moved back to today; a date range given the wrong way round is put in order;
- ``cursor`` is opaque: only a cursor the service made is valid, so valid requests carry none;
- a country code must be one a country has (the document gives its pattern only);
- exactly one member is the principal;
- a user's new ``country`` must fit the user's role (stored, when the role is not given);
- the Idempotency-Key is derived from the request, so one key never meets two bodies (that
  422 is the contract's answer, not a rejection of valid data);
- the users the fuzzer signs in with are never edited (a new password or deactivation would
  end their tokens mid-run): such a PATCH goes to a spare user instead;
- member ids must be those of the case's current members (else 422, by the contract): the
  hook reads the case (as the fuzzing supervisor) and puts its members' ids in a PATCH of
  the members, in ``accepted_members`` and in ``split_case`` (whose ``principal`` must be
  among ``members``), and in the path of a subject access request (whose member must be one
  of that case's, else 404).
- a webhook endpoint must be for an active user who reads cases, at an address that is
  allowed (else 422, by the contract): a valid subscription names the fuzzing supervisor and
  a closed port on 127.0.0.1 (the server allows private addresses for the run), so no random
  host name is ever looked up.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import httpx
import schemathesis
from schemathesis.core.parameters import ParameterLocation

from app.vocabulary import COUNTRY_CODES

COUNTRIES = frozenset(
    {"origin_country", "nationality", "resettlement_country", "transit_country", "country"}
)
PAST_DATES = frozenset(
    {"date_of_birth", "identified_at", "entered_at", "departed_at", "arrived_at", "done_on"}
)
RANGES = (("identified_from", "identified_to"), ("from", "to"))
PROGRAMME_START = "2016-01-01"  # the funnel's default `from`
OFFICERS = frozenset({"resettlement_officer", "transit_officer"})
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _positive(case: Any, location: ParameterLocation) -> bool:
    meta = case.meta
    return meta is not None and not meta.is_negative_at(location)


def _past_dates(node: Any) -> None:
    today = _today()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PAST_DATES and isinstance(value, str) and ISO_DATE.match(value):
                node[key] = min(value, today)
            else:
                _past_dates(value)
    elif isinstance(node, list):
        for item in node:
            _past_dates(item)


def _countries(node: Any) -> None:
    """A code of the pattern that no country has (``LUJ``) becomes one that some country has."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in COUNTRIES and isinstance(value, str) and value not in COUNTRY_CODES:
                node[key] = "SLV"
            else:
                _countries(value)
    elif isinstance(node, list):
        for item in node:
            _countries(item)


def _one_principal(body: dict[str, Any]) -> None:
    members = body.get("members")
    if isinstance(members, list) and members and all(isinstance(m, dict) for m in members):
        for index, member in enumerate(members):
            member["is_principal"] = index == 0


def _protect_users(case: Any) -> None:
    protected = set(filter(None, os.environ.get("PTA_FUZZ_PROTECTED_USERS", "").split(",")))
    if str((case.path_parameters or {}).get("user_id")) in protected:
        case.path_parameters["user_id"] = os.environ["PTA_FUZZ_SPARE_USER"]


def _user_update(body: dict[str, Any]) -> None:
    role = body.get("role")
    if isinstance(role, str):
        if role in OFFICERS:
            body["country"] = body.get("country") or "USA"
        else:
            body["country"] = None
    else:
        body.pop("country", None)
        if not body:
            body["active"] = True


def _query(case: Any) -> None:
    query = case.query
    if not isinstance(query, dict):
        return
    query.pop("cursor", None)
    _countries(query)
    for low, high in RANGES:
        default_low = PROGRAMME_START if low == "from" else None
        default_high = _today() if high == "to" else None
        start, end = query.get(low, default_low), query.get(high, default_high)
        if isinstance(start, str) and isinstance(end, str) and start > end:
            query[low], query[high] = end, start


def _idempotency_key(case: Any) -> None:
    headers = case.headers  # a case-insensitive mapping
    if not isinstance(headers, MutableMapping) or "Idempotency-Key" not in headers:
        return
    request = json.dumps([case.method, case.formatted_path, case.body], sort_keys=True, default=str)
    headers["Idempotency-Key"] = hashlib.sha256(request.encode()).hexdigest()


def _current_member_ids(case: Any) -> list[str]:
    """The ids of the current members of the case the request is about, read as the fuzzing
    supervisor (none when there is no such case)."""
    case_id = (case.path_parameters or {}).get("case_id")
    base = os.environ.get("PTA_FUZZ_BASE_URL")
    if not case_id or not base:
        return []
    with open(os.environ["PTA_FUZZ_AUTH"]) as file:
        auth = {entry["name"]: entry for entry in json.load(file)["auth"]}
    headers = {h["name"]: h["value"] for h in auth["supervisor"]["fixedHeaders"]}
    try:
        response = httpx.get(f"{base}/api/v1/cases/{case_id}", headers=headers, timeout=10)
    except httpx.HTTPError:
        return []
    if response.status_code != 200:
        return []
    return [str(m["id"]) for m in response.json().get("members", [])]


def _member_ids(case: Any, body: dict[str, Any]) -> None:
    action = body.get("action")
    members = body.get("members")
    patching = case.method.upper() == "PATCH" and isinstance(members, list)
    if not (patching or action == "split_case" or "accepted_members" in body):
        return
    ids = _current_member_ids(case)
    if patching and isinstance(members, list):
        for index, member in enumerate(m for m in members if isinstance(m, dict)):
            if "id" in member and index < len(ids):
                member["id"] = ids[index]
            else:
                member.pop("id", None)
    elif action == "split_case" and isinstance(members, list):
        moving = ids[-1:] or members[:1]
        body["members"], body["principal"] = moving, moving[0] if moving else None
    elif isinstance(body.get("accepted_members"), list):
        chosen = ids[: len(body["accepted_members"])]
        if chosen:
            body["accepted_members"] = chosen
        else:
            body.pop("accepted_members")


#: where the fuzzing's webhook endpoints point: nothing listens on the discard port
WEBHOOK_URL = "http://127.0.0.1:9/pta-fuzz"


def _webhook(case: Any, body: dict[str, Any]) -> None:
    if not case.path.startswith("/api/v1/webhooks"):
        return
    if "url" in body:
        body["url"] = WEBHOOK_URL
    if case.method.upper() == "POST" and "user_id" in body:
        body["user_id"] = os.environ["PTA_FUZZ_WEBHOOK_USER"]


def _member_in_path(case: Any) -> None:
    ids = _current_member_ids(case)
    if ids and "member_id" in (case.path_parameters or {}):
        case.path_parameters["member_id"] = ids[0]


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    editing_a_user = case.method.upper() == "PATCH" and case.path.startswith("/api/v1/users/")
    if editing_a_user:
        _protect_users(case)
    if _positive(case, ParameterLocation.BODY) and isinstance(case.body, dict):
        _past_dates(case.body)
        _countries(case.body)
        _one_principal(case.body)
        _member_ids(case, case.body)
        _webhook(case, case.body)
        if editing_a_user:
            _user_update(case.body)
    if _positive(case, ParameterLocation.QUERY):
        _query(case)
    if _positive(case, ParameterLocation.PATH):
        _member_in_path(case)
    if _positive(case, ParameterLocation.HEADER):
        _idempotency_key(case)
