"""The hash definitions of domain.md "Tamper-evident history and access log", in one place:
what the service writes, what the migration computes for old history and what
``pta audit verify`` recomputes all come from here. Pure functions, no database.

- A case event's ``hash`` is the SHA-256 (hex) of the UTF-8 text

      <predecessor's hash>\\n<id>\\n<case id>\\n<at>\\n<action>\\n<from status>\\n<to status>\\n
      <user id>\\n<role>\\n<payload digest>

  (one line, without the line breaks shown here after ``to status``): the predecessor is the
  case's previous event (64 zeros for its first), ids and UUIDs as in the API (lowercase,
  hyphenated), ``at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds), an empty
  ``from status`` for ``create``, and the payload digest the SHA-256 (hex) of the payload's
  canonical JSON (keys sorted, no spaces, ASCII with ``\\u`` escapes). An erased payload
  (``{"erased": true}``) keeps the digest of what it was in ``payload_digest``.
- A seal's ``root`` is the SHA-256 (hex) of the text: one line ``a <canonical JSON of the
  row>`` per access-log row ``first_id``…``last_id`` in id order (the row: ``id, at,
  user_id, role, country, action, filters, case_ids``), then one line ``c <case id> <hash>``
  per case whose chain grew since the previous seal (events with ids after the previous
  seal's ``last_event_id`` up to this one's), with the hash of its latest event up to
  ``last_event_id``, in case id order, and last the line ``seal <prev> <first_id>
  <last_id> <count> <last_event_id>``. Every line ends with ``\n``. Through ``prev`` each
  seal stands on every seal before it, so the latest seal covers every case's latest hash
  at its moment.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

ZERO_HASH = "0" * 64
#: What an erased event's payload becomes (domain.md "Retention").
ERASED_PAYLOAD: Mapping[str, Any] = {"erased": True}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def payload_digest(payload: Any) -> str:
    return sha256_hex(canonical_json(payload))


def timestamp(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (years 1000–9999)."""
    offset = at.utcoffset()
    if offset is None:
        raise ValueError("naive datetime")
    if offset:
        at = at.astimezone(UTC)
    return at.isoformat(timespec="microseconds")[:26] + "Z"


def event_content(
    *,
    case_id: uuid.UUID,
    at: datetime,
    action: str,
    from_status: str | None,
    to_status: str,
    user_id: uuid.UUID,
    role: str,
    digest: str,
) -> str:
    """What follows ``<predecessor>\\n<id>`` in the hashed text (it starts with a line break):
    the part the service knows before the database numbers the event."""
    return (
        f"\n{case_id}\n{timestamp(at)}\n{action}\n{from_status or ''}\n{to_status}"
        f"\n{user_id}\n{role}\n{digest}"
    )


def event_hash(previous: str, event_id: int, content: str) -> str:
    return sha256_hex(f"{previous}\n{event_id}{content}")


def stored_payload_digest(payload: Any, kept_digest: str | None) -> str:
    """The digest an event's hash was made with: its payload's, or for an erased payload the
    digest kept at the erasure."""
    if kept_digest is not None and payload == ERASED_PAYLOAD:
        return kept_digest
    return payload_digest(payload)


def hash_of_row(row: Mapping[str, Any], previous: str) -> str:
    """The hash an event row (the ``case_events`` columns) should carry after ``previous``."""
    content = event_content(
        case_id=row["case_id"],
        at=row["at"],
        action=row["action"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        user_id=row["user_id"],
        role=row["role"],
        digest=stored_payload_digest(row["payload"], row["payload_digest"]),
    )
    return event_hash(previous, row["id"], content)


def seal_line(prev: str, first_id: int, last_id: int, count: int, last_event_id: int) -> str:
    return f"seal {prev} {first_id} {last_id} {count} {last_event_id}\n"


def access_line(
    *,
    entry_id: int,
    at: datetime,
    user_id: uuid.UUID,
    role: str,
    country: str | None,
    action: str,
    filters: Any,
    case_ids: Iterable[uuid.UUID],
) -> str:
    row = {
        "id": entry_id,
        "at": timestamp(at),
        "user_id": str(user_id),
        "role": role,
        "country": country,
        "action": action,
        "filters": filters,
        "case_ids": sorted(str(case_id) for case_id in case_ids),
    }
    return f"a {canonical_json(row)}\n"


def head_line(case_id: uuid.UUID, head: str) -> str:
    return f"c {case_id} {head}\n"
