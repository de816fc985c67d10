"""The deployment test's own logic, without a cluster (``make deploy-test`` runs the real
thing): it reads the guide's blocks and fails when the guide drifts, it counts lost and
doubled writes, and it reads HAProxy's log and stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy_test import guide
from deploy_test.client import Ledger
from deploy_test.exactly_once import count_writes
from deploy_test.topology import parse_states, read_haproxy_log, server_errors

BLOCKS = (
    "roles.sql",
    "pg_hba.conf",
    "postgresql.conf",
    "make-standby.sh",
    "base-backup.sh",
    "pgbouncer.ini",
    "haproxy.cfg",
    "restore.sh",
)


@pytest.mark.parametrize("name", BLOCKS)
def test_every_block_the_deployment_test_runs_is_in_the_guide(name: str) -> None:
    assert guide.block(name).strip()


def test_a_block_in_a_list_is_dedented_and_a_missing_value_fails(tmp_path: Path) -> None:
    page = tmp_path / "guide.md"
    page.write_text(
        "1. restore:\n\n   <!-- deploy-test: demo.sh -->\n   ```sh\n   cp /a/%f %p\n   ```\n"
    )
    assert guide.rendered("demo.sh", {"/a": "/srv/x"}, page) == "cp /srv/x/%f %p\n"
    with pytest.raises(guide.GuideChanged, match="no longer holds '/b'"):
        guide.rendered("demo.sh", {"/b": "/srv/x"}, page)
    with pytest.raises(guide.GuideChanged, match="no block marked"):
        guide.block("other.sh", page)


def test_the_results_land_between_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "guide.md"
    page.write_text(f"intro\n{guide.RESULTS_BEGIN}\nold\n{guide.RESULTS_END}\nend\n")
    guide.write_results("| new |", page)
    assert page.read_text() == f"intro\n{guide.RESULTS_BEGIN}\n| new |\n{guide.RESULTS_END}\nend\n"


class Rows:
    """A stand-in for the primary: the case histories it would return."""

    def __init__(self, rows: list[list[str]]) -> None:
        self._rows = rows

    def rows(self, _sql: str) -> list[list[str]]:
        return self._rows


def ledger_of(cases: dict[str, tuple[str, list[str], int]]) -> Ledger:
    ledger = Ledger()
    for case_id, (key, actions, version) in cases.items():
        ledger.created[key] = case_id
        ledger.acknowledged[case_id] = actions
        ledger.versions[case_id] = version
    return ledger


def test_writes_lost_doubled_or_unacknowledged_are_counted() -> None:
    ledger = ledger_of(
        {
            "c1": ("k1", ["create", "start_assessment"], 2),
            "c2": ("k2", ["create", "start_assessment", "request_review"], 3),
        }
    )
    exact = Rows(
        [
            ["c1", "load-k1", "2", "create,start_assessment"],
            ["c2", "load-k2", "3", "create,start_assessment,request_review"],
        ]
    )
    counted = count_writes(exact, ledger)
    assert (counted.acknowledged, counted.lost, counted.duplicated) == (5, 0, 0)
    assert (counted.unacknowledged, counted.wrong_version) == (0, 0)
    broken = Rows(
        [
            ["c1", "load-k1", "3", "create,start_assessment,start_assessment"],  # applied twice
            ["c2", "load-k2", "2", "create,start_assessment"],  # the last one lost
            ["c3", "load-k2", "1", "create"],  # the same creation key twice
            ["c4", "load-k9", "1", "create"],
        ]  # never acknowledged
    )
    counted = count_writes(broken, ledger)
    assert (counted.lost, counted.duplicated) == (1, 2)
    assert (counted.unacknowledged, counted.wrong_version) == (1, 2)


def test_haproxy_log_lines_and_stats_are_read() -> None:
    log = (
        "127.0.0.1:1 [03/Dec/2026:13:34:16.842] pta pta_replicas/app2 0/0/0/40/40 200 1314 - - "
        '---- 7/6/4/2/+1 0/0 "POST /api/v1/cases HTTP/1.1"\n'
        "127.0.0.1:2 [03/Dec/2026:13:34:16.850] pta pta_replicas/app1 0/0/0/-1/5 502 200 - - "
        'SH-- 7/6/4/2/0 0/0 "GET /api/v1/cases HTTP/1.1"\n'
    )
    seen = read_haproxy_log(log)
    assert (seen.cut, seen.redispatched) == ({"SH--": 1}, 1)
    stats = "# pxname,svname,status\npta_replicas,app1,DOWN\npta_replicas,app2,UP 1/2\n"
    assert parse_states(stats) == {"app1": "DOWN", "app2": "UP 1/2"}
    app_log = (
        '{"level":"warning","logger":"pta.api","message":"database unavailable",'
        '"error_type":"QueryCanceledError"}\n'
        '{"level":"info","logger":"pta.request","method":"GET","route":"/api/v1/cases",'
        '"status":503}\n'
        '{"level":"info","logger":"pta.request","method":"GET","route":"/readyz","status":200}\n'
        "not json\n"
        '{"level":"error","logger":"pta.request","method":"POST","route":"/x","status":500}\n'
    )
    assert server_errors(app_log) == [
        "GET /api/v1/cases 503 (QueryCanceledError)",
        "POST /x 500",
    ]
