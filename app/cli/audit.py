"""``pta audit``: seal now, and verify the hash chains and the seals."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from app.cli.common import log, run_with_engine
from app.config import Settings
from app.services import seals, verify


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="tamper-evident history").add_subparsers(
        dest="audit", required=True
    )
    audit.add_parser(
        "seal", help="seal the access log and the case chains now (if anything is new)"
    ).set_defaults(handler=cmd_audit_seal, needs_schema=True)
    audit.add_parser(
        "verify",
        help="recompute every case's chain, every seal and the seal chain: exit 0 with the "
        "counts checked, 1 naming the first broken item",
    ).set_defaults(handler=cmd_audit_verify, needs_schema=True)


def cmd_audit_seal(_args: argparse.Namespace, settings: Settings) -> int:
    sealed = run_with_engine(settings, lambda engine: seals.seal(engine, datetime.now(UTC)))
    if sealed is None:
        print("nothing new to seal")
    else:
        print(
            f"seal {sealed['id']}: access-log rows {sealed['first_id']}–{sealed['last_id']} "
            f"({sealed['count']:,}), events up to {sealed['last_event_id']}, "
            f"root {sealed['root']}"
        )
    return 0


def cmd_audit_verify(_args: argparse.Namespace, settings: Settings) -> int:
    report = run_with_engine(settings, verify.verify)
    ok = report.broken is None
    log.info("verified", extra={"result": "ok" if ok else "broken", "events": report.events})
    if not ok:
        print(f"broken: {report.broken}")
        return 1
    print(f"ok: {report.summary()}")
    return 0
