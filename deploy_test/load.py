"""The bounded mixed load through HAProxy, and the replica killed in its middle.

Each virtual client owns its cases and walks each through creation and five transitions
(``Idempotency-Key`` on every write, ``If-Match`` on every transition), with reads, lists,
events, the funnel and sign-ins in between. A controller kills one app replica with SIGKILL a
few seconds in, waits for HAProxy to take it out, starts it again, waits for HAProxy to take
it back, lets the load run on, then stops it. Samplers note HAProxy's view of the replicas and
the streaming replica's lag the whole time."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx

from deploy_test.client import PASSWORD, Client, Ledger, bearer, new_case
from deploy_test.topology import Deployment, parse_states

CLIENTS = 6
#: the transitions each case goes through after its creation (then a new case is made)
CYCLE = (
    "start_assessment",
    "request_review",
    "return_to_assessment",
    "request_review",
    "return_to_assessment",
)
SUPERVISOR_ACTIONS = frozenset({"return_to_assessment"})
KILL_AFTER = 12.0  # seconds of load before the kill
OUTAGE = 3.0  # seconds the replica stays dead after HAProxy took it out
RUN_ON = 10.0  # seconds of load after HAProxy took it back
HARD_STOP = 240.0  # the load stops by then whatever happened
MAX_ITERATIONS = 5000  # per client
SIGN_IN_EVERY = 40  # iterations


@dataclass
class Users:
    caseworkers: list[str]
    supervisor: str
    manager: str
    tokens: dict[str, str] = field(default_factory=dict)  # role → a token all clients share


@dataclass
class Chaos:
    """What happened to the killed replica, in seconds since the load started."""

    victim: str = "app1"
    killed_at: float | None = None
    down_at: float | None = None
    restarted_at: float | None = None
    ready_after: float | None = None
    up_at: float | None = None
    states: list[tuple[float, str]] = field(default_factory=list)  # the victim's, as it changed
    lag: list[tuple[float, float, int]] = field(default_factory=list)  # at, seconds, bytes
    problems: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set on each new state

    def dying_window(self, at: float) -> bool:
        """Within the moments when the killed replica's connections were dying."""
        return (
            self.killed_at is not None
            and self.down_at is not None
            and self.killed_at <= at <= self.down_at + 0.5
        )


async def create_users(front: str, admin_token: str, ledger: Ledger) -> Users:
    client = Client(front, ledger)
    tag = uuid.uuid4().hex[:6]
    users = Users(
        [f"load_cw{i}_{tag}" for i in range(CLIENTS)], f"load_sup_{tag}", f"load_mgr_{tag}"
    )
    roles = [(name, "caseworker") for name in users.caseworkers]
    roles += [(users.supervisor, "supervisor"), (users.manager, "manager")]
    try:
        for name, role in roles:
            answer = await client.send(
                "users",
                "POST",
                "/api/v1/users",
                headers=bearer(admin_token),
                json={"username": name, "password": PASSWORD, "role": role},
            )
            if answer is None or answer.status_code != 201:
                raise RuntimeError(f"creating {name}: {answer and answer.text}")
    finally:
        await client.close()
    return users


class VirtualClient:
    def __init__(self, index: int, front: str, ledger: Ledger, users: Users) -> None:
        self.index, self.ledger, self.users = index, ledger, users
        self.client = Client(front, ledger)
        self.case_id: str | None = None
        self.step = 0

    async def run(self, stop: asyncio.Event) -> None:
        me = self.users.caseworkers[self.index]
        self.worker = await self.client.token(me)
        self.boss, self.manager = self.users.tokens["supervisor"], self.users.tokens["manager"]
        try:
            for iteration in range(1, MAX_ITERATIONS + 1):
                if stop.is_set():
                    break
                await self.write()
                await self.read(iteration)
                if iteration % SIGN_IN_EVERY == 0:
                    self.worker = await self.client.token(me)
        finally:
            await self.client.close()

    async def write(self) -> None:
        if self.case_id is None or self.step == len(CYCLE):
            await self.create()
        else:
            await self.transition(CYCLE[self.step])

    async def create(self) -> None:
        key = str(uuid.uuid4())
        answer = await self.client.send(
            "create",
            "POST",
            "/api/v1/cases",
            json=new_case(f"load-{key}"),
            headers=bearer(self.worker, **{"Idempotency-Key": key}),
        )
        self.case_id, self.step = None, 0
        if answer is None:
            return
        if answer.status_code != 201:
            self.ledger.unexpected.append(f"create → {answer.status_code} {answer.text[:200]}")
            return
        self.case_id = str(answer.json()["id"])
        self.ledger.created[key] = self.case_id
        self.ledger.acknowledge(self.case_id, "create", answer)

    async def transition(self, action: str) -> None:
        assert self.case_id is not None
        token = self.boss if action in SUPERVISOR_ACTIONS else self.worker
        body: dict[str, str] = {"action": action}
        if action == "return_to_assessment":
            body["reason"] = "load test"
        version = self.ledger.versions[self.case_id]
        answer = await self.client.send(
            "transition",
            "POST",
            f"/api/v1/cases/{self.case_id}/transitions",
            json=body,
            headers=bearer(
                token, **{"If-Match": f'"{version}"', "Idempotency-Key": str(uuid.uuid4())}
            ),
        )
        if answer is None:
            self.case_id = None  # in doubt: leave this case, the check will see what happened
            return
        if answer.status_code != 200:
            self.ledger.unexpected.append(f"{action} → {answer.status_code} {answer.text[:200]}")
            self.case_id = None
            return
        self.ledger.acknowledge(self.case_id, action, answer)
        self.step += 1

    async def read(self, iteration: int) -> None:
        kind = iteration % 4
        if kind == 0 or self.case_id is None:
            label, path, token = "list", "/api/v1/cases?limit=20", self.worker
        elif kind == 1:
            label, path, token = "get", f"/api/v1/cases/{self.case_id}", self.worker
        elif kind == 2:
            label, path, token = "events", f"/api/v1/cases/{self.case_id}/events", self.worker
        else:
            label, path, token = "funnel", "/api/v1/reports/funnel", self.manager
        answer = await self.client.send(label, "GET", path, headers=bearer(token))
        if answer is not None and answer.status_code != 200:
            self.ledger.unexpected.append(f"{label} → {answer.status_code} {answer.text[:200]}")


async def watch_haproxy(
    deployment: Deployment, chaos: Chaos, ledger: Ledger, stop: asyncio.Event
) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        while not stop.is_set():
            try:
                state = parse_states((await http.get(deployment.stats_url)).text)
            except httpx.TransportError:
                state = {}
            seen = state.get(chaos.victim, "?")
            if not chaos.states or chaos.states[-1][1] != seen:
                chaos.states.append((ledger.now(), seen))
                chaos.changed.set()
            if "app2" in state and state["app2"] != "UP":
                chaos.problems.append(f"app2 was {state['app2']} at {ledger.now():.1f} s")
            await asyncio.sleep(0.05)


async def watch_lag(
    deployment: Deployment, chaos: Chaos, ledger: Ledger, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        seconds, behind = await asyncio.to_thread(deployment.replication_lag)
        chaos.lag.append((ledger.now(), seconds, behind))
        await asyncio.sleep(1)


async def until_state(chaos: Chaos, wanted: str, within: float) -> float:
    """When HAProxy's view of the victim became ``wanted``, in seconds since the start."""
    try:
        async with asyncio.timeout(within):
            while not (chaos.states and chaos.states[-1][1] == wanted):
                chaos.changed.clear()
                await chaos.changed.wait()
    except TimeoutError:
        message = f"HAProxy never showed {chaos.victim} {wanted} in {within:.0f} s"
        raise TimeoutError(message) from None
    return chaos.states[-1][0]


async def kill_and_restart(
    deployment: Deployment, chaos: Chaos, ledger: Ledger, stop: asyncio.Event
) -> None:
    try:
        await asyncio.sleep(KILL_AFTER)
        chaos.killed_at = ledger.now()
        deployment.apps[chaos.victim].kill9()
        chaos.down_at = await until_state(chaos, "DOWN", 30)
        await asyncio.sleep(OUTAGE)
        chaos.restarted_at = ledger.now()
        chaos.ready_after = await asyncio.to_thread(deployment.start_app, chaos.victim)
        chaos.up_at = await until_state(chaos, "UP", 60)
        await asyncio.sleep(RUN_ON)
    except Exception as error:  # noted and shown in the table; the load still stops
        chaos.problems.append(f"{type(error).__name__}: {error}")
    finally:
        stop.set()


async def run_load(deployment: Deployment, admin_token: str) -> tuple[Ledger, Chaos]:
    ledger, chaos = Ledger(), Chaos()
    users = await create_users(deployment.front, admin_token, ledger)
    # One sign-in each for the supervisor and the manager, shared by every client (as one
    # session is by a program's threads): sign-ins for one username from one address queue
    # behind each other's password check, so six at once would test that queue, not the load.
    shared = Client(deployment.front, ledger)
    try:
        for role, name in (("supervisor", users.supervisor), ("manager", users.manager)):
            users.tokens[role] = await shared.token(name)
    finally:
        await shared.close()
    ledger.attempts.clear()  # the count is the load's, not its set-up's
    stop = asyncio.Event()
    clients = [VirtualClient(i, deployment.front, ledger, users) for i in range(CLIENTS)]
    tasks = [asyncio.create_task(c.run(stop)) for c in clients]
    tasks += [
        asyncio.create_task(watch(deployment, chaos, ledger, stop))
        for watch in (watch_haproxy, watch_lag)
    ]
    tasks.append(asyncio.create_task(kill_and_restart(deployment, chaos, ledger, stop)))
    done, pending = await asyncio.wait(tasks, timeout=HARD_STOP)
    stop.set()
    if pending:
        chaos.problems.append(f"the load did not stop within {HARD_STOP:.0f} s")
        for task in pending:
            task.cancel()
    for task in done:
        if task.exception() is not None:
            chaos.problems.append(f"{type(task.exception()).__name__}: {task.exception()}")
    return ledger, chaos
