"""Run pgbench and wrk, and read their results."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.capture import Script

WRK_DIR = Path(__file__).resolve().parent / "wrk"


@dataclass
class Result:
    """One measurement: a tool at one concurrency."""

    tool: str
    conns: int
    tps: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    transactions: int = 0
    failures: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def pg_args(url: str) -> list[str]:
    parts = urlsplit(url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    args += ["-U", parts.username or "postgres", parts.path.lstrip("/")]
    return args


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values.sort()
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def pgbench(
    url: str,
    script: Script,
    script_path: Path,
    *,
    conns: int,
    seconds: float | None = None,
    transactions: int | None = None,
    defines: dict[str, str] | None = None,
) -> Result:
    """pgbench -M prepared -j 2 with the generated script; latency percentiles from its log."""
    with tempfile.TemporaryDirectory(prefix="pta-bench-pgbench-") as folder:
        command = ["pgbench", "-n", "-M", "prepared", "-j", str(min(2, conns)), "-c", str(conns)]
        command += ["-T", str(int(seconds))] if seconds else ["-t", str(transactions or 10)]
        command += ["-f", str(script_path), "-r", "-l", f"--log-prefix={folder}/tx"]
        command += [
            arg
            for k, v in {**script.defines, **(defines or {})}.items()
            for arg in ("-D", f"{k}={v}")
        ]
        command += pg_args(url)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        latencies: list[float] = []
        for log in Path(folder).glob("tx*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]) / 1000)
    if done.returncode != 0 or "error" in done.stderr.lower():
        raise RuntimeError(
            f"pgbench failed ({done.returncode}) on {script_path.name}:\n"
            f"{done.stderr[-2500:]}\n{done.stdout[-1000:]}"
        )
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    processed = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    per_statement = [
        (float(m[1]), m[2].strip())
        for m in re.finditer(r"^\s+([\d.]+)\s+\d+\s+(\S.*)$", done.stdout, re.MULTILINE)
        if not m[2].lstrip().startswith("\\")
    ]
    return Result(
        tool="pgbench",
        conns=conns,
        tps=float(tps[1]) if tps else 0.0,
        p50_ms=_percentile(latencies, 50),
        p99_ms=_percentile(latencies, 99),
        transactions=int(processed[1]) if processed else len(latencies),
        failures=int(failed[1]) if failed else 0,
        detail={"ms_per_statement": per_statement},
    )


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def write_lua_data(path: Path, data: dict[str, Any]) -> Path:
    """A Lua table literal the wrk script loads with dofile()."""

    def lua(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, str):
            return json.dumps(value)  # JSON string escapes are valid Lua escapes here
        if isinstance(value, list | tuple):
            return "{" + ",".join(lua(v) for v in value) + "}"
        if isinstance(value, dict):
            return "{" + ",".join(f"[{json.dumps(k)}]={lua(v)}" for k, v in value.items()) + "}"
        raise TypeError(type(value))

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("return " + lua(data) + "\n")
    return path


def wrk(
    base: str, lua_script: str, data_path: Path, *, conns: int, seconds: float, timeout: int = 10
) -> Result:
    threads = min(2, conns)
    command = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{int(seconds)}s"]
    command += ["--timeout", f"{timeout}s", "-s", str(WRK_DIR / lua_script), base]
    command += ["--", str(data_path), str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({done.returncode}):\n{done.stderr[-2000:]}\n{done.stdout[-2000:]}"
        )
    summary = json.loads(line.removeprefix("BENCH_JSON "))
    seconds_run = summary["duration_us"] / 1e6
    errors = (
        summary["connect_errors"]
        + summary["read_errors"]
        + summary["write_errors"]
        + summary["timeouts"]
    )
    non_2xx = max(summary["status_errors"], summary["lua_non_2xx"])
    return Result(
        tool="wrk",
        conns=conns,
        tps=summary["requests"] / seconds_run if seconds_run else 0.0,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        transactions=summary["requests"],
        failures=non_2xx + errors,
        detail={"non_2xx": non_2xx, "socket_errors": errors, "statuses": summary["lua_statuses"]},
    )


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0
