"""What every error answer must look like to a client."""

from __future__ import annotations

import httpx

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code"}


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, object]:
    """``application/problem+json`` with this status (and code), every field of the problem
    schema, and nothing of the inside: no stack trace, no SQL, no library names."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, object] = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    assert set(body) >= PROBLEM_FIELDS, body
    text = response.text
    assert "Traceback" not in text and "SELECT" not in text and "sqlalchemy" not in text.lower()
    return body
