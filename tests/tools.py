"""Programs some tests need besides the Python packages: Debian's chromium, buildah and
debootstrap, PostgreSQL's initdb, npm's axe-core (tests/browser/), hadolint.

`make install` installs axe-core and `.ci/run` installs the Debian packages; `.ci/run` also
sets ``PTA_TEST_REQUIRE_TOOLS=1``, and there a missing program fails the test that needs it (a
skipped test is not a passed one). A developer's plain `make test` without them skips those
tests, saying what to install."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REQUIRE_TOOLS = "PTA_TEST_REQUIRE_TOOLS"
ROOT = Path(__file__).resolve().parent.parent
#: what tests/test_dashboard.py injects into the page (`npm ci --prefix tests/browser`)
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"


def required() -> bool:
    return os.environ.get(REQUIRE_TOOLS) == "1"


def missing(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it where every tool must be there (CI)."""
    if required():
        pytest.fail(f"{reason} ({REQUIRE_TOOLS}=1: this run must have it)", pytrace=False)
    pytest.skip(reason)
