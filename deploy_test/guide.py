"""The guide's blocks, as the test uses them: every configuration file and shell command the
deployment test runs is read from docs/deployment.md, where a ``<!-- deploy-test: NAME -->``
line stands before its fenced block. The test names each value it replaces (an address, a
path, a password) and fails when the guide no longer holds that value, so the guide and the
test cannot drift apart silently."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "deployment.md"
MARKER = "<!-- deploy-test: {name} -->"
RESULTS_BEGIN = "<!-- deploy-test: last-run -->"
RESULTS_END = "<!-- /deploy-test: last-run -->"


class GuideChanged(RuntimeError):
    """The guide no longer holds what the test runs."""


def block(name: str, guide: Path = GUIDE) -> str:
    """The fenced block after the marker ``name``, dedented (blocks may sit in a list)."""
    lines = guide.read_text().splitlines()
    marker = MARKER.format(name=name)
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == marker)
    except StopIteration:
        raise GuideChanged(f"{guide.name} has no block marked {marker}") from None
    if start + 1 >= len(lines) or not lines[start + 1].strip().startswith("```"):
        raise GuideChanged(f"{marker} is not followed by a fenced block")
    body: list[str] = []
    for line in lines[start + 2 :]:
        if line.strip() == "```":
            return textwrap.dedent("\n".join(body)) + "\n"
        body.append(line)
    raise GuideChanged(f"the block after {marker} is not closed")


def rendered(name: str, replacements: Mapping[str, str], guide: Path = GUIDE) -> str:
    """The block with each of the guide's values replaced by the test's (each must occur)."""
    text = block(name, guide)
    for guide_value, local_value in replacements.items():
        if guide_value not in text:
            raise GuideChanged(f"block {name!r} no longer holds {guide_value!r}")
        text = text.replace(guide_value, local_value)
    return text


def write_results(markdown: str, guide: Path = GUIDE) -> None:
    """Put the last run's table between the results markers of the guide."""
    text = guide.read_text()
    head, found, rest = text.partition(RESULTS_BEGIN)
    _, found_end, tail = rest.partition(RESULTS_END)
    if not found or not found_end:
        raise GuideChanged(f"{guide.name} has no {RESULTS_BEGIN} … {RESULTS_END} section")
    guide.write_text(f"{head}{RESULTS_BEGIN}\n{markdown.strip()}\n{RESULTS_END}{tail}")
