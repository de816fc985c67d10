"""``make bench ARGS="--baseline REV"``: the status update of an earlier commit, measured in the
same run, on the same machine, with the same settings — so that a change to the write path (the
hash chain, the outbox, the households' new columns) is judged against the code before it and
not against a figure from another day.

The commit is checked out as a detached worktree, ``$TMPDIR/pta-bench-baseline/<commit>``, with
its own virtualenv (``make install`` there), and its own ``bench.run`` measures its status update
on its own database, ``pta_bench_base_<commit>`` (its own loader and migrations: the schema of
that commit), on ports after ours; ``--baseline`` may be given more than once. Its rows come
back here as "status update @ <commit>", each judged: this run's status update ≥ 0.9 × the
baseline's at the same concurrency.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.report import Row

ROOT = Path(__file__).resolve().parent.parent
KEY = "status_update_baseline"
#: the share of the baseline's throughput the status update must keep
AT_LEAST = 0.9
#: run the commit's bench.run with our database name whatever its options (older commits have
#: no --database: their MAIN_DB is read when they parse their arguments and load)
CHILD = "import sys, bench.run as run; run.MAIN_DB = sys.argv[1]; sys.exit(run.main(sys.argv[2:]))"


def worktree(revision: str, say: Callable[[str], None]) -> tuple[str, Path]:
    """The commit's id and a worktree of it with its virtualenv installed."""
    commit = _git("rev-parse", "--verify", f"{revision}^{{commit}}").strip()
    folder = Path(tempfile.gettempdir()) / "pta-bench-baseline" / commit[:12]
    if not (folder / ".git").exists():
        say(f"baseline: checking out {commit[:12]} in {folder}")
        folder.parent.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", "--force", str(folder), commit)
    say(f"baseline: make install in {folder}")
    subprocess.run(["make", "install"], cwd=folder, check=True, stdout=subprocess.DEVNULL)
    # wrk drives both with today's status update script: the same requests, and a commit from
    # before its fix (issue 12: the request-id pattern) is measured rather than not at all
    script = ROOT / "bench" / "wrk" / "status_update.lua"
    shutil.copyfile(script, folder / "bench" / "wrk" / script.name)
    return commit, folder


def measure(
    revision: str,
    *,
    cases: int,
    seconds: int,
    quick: bool,
    port: int,
    reuse: bool,
    say: Callable[[str], None],
) -> list[Row]:
    """The baseline commit's status update rows, labelled with the commit."""
    commit, folder = worktree(revision, say)
    arguments = [
        *("--cases", str(cases), "--seconds", str(seconds), "--funnel-sizes", str(cases)),
        *("--ops", "status_update", "--port", str(port)),
        *(["--quick"] if quick else []),
        *(["--reuse"] if reuse else []),
    ]
    say(f"baseline: {commit[:12]}'s bench.run {' '.join(arguments)}")
    python = folder / ".venv" / "bin" / "python"
    database = f"pta_bench_base_{commit[:8]}"
    done = subprocess.run([str(python), "-c", CHILD, database, *arguments], cwd=folder, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the baseline's bench.run exited {done.returncode}")
    result = json.loads((folder / "bench" / "out" / "last-run.json").read_text())
    return [
        Row(
            **{
                **{k: v for k, v in row.items() if k in Row.__dataclass_fields__},
                "key": f"{KEY}@{commit[:10]}",
                "label": f"status update @ {commit[:10]} (baseline)",
                "target": "",
                "verdict": "",
                "note": "",
            }
        )
        for row in result["rows"]
        if row["key"] == "status_update"
    ]


def judge(rows: list[Row]) -> None:
    """Each baseline row: this run's status update at its concurrency keeps ≥ AT_LEAST of it."""
    now = {row.conns: row for row in rows if row.key == "status_update"}
    for row in rows:
        if not row.key.startswith(KEY) or row.conns not in now or not row.service_rps:
            continue
        share = (now[row.conns].service_rps or 0) / row.service_rps
        row.target = f"status update ≥ {AT_LEAST} × this"
        row.verdict = "PASS" if share >= AT_LEAST else "MISS"
        row.note = f"status update now: {share:.2f} × this"


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout
