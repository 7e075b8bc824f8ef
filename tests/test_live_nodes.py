"""Two servers of one board behind a load balancer: one PostgreSQL database, one Redis.

Two boards served as in production (tests/live.py: gunicorn with gunicorn.conf.py) on ports of
their own share one database in the tests' PostgreSQL cluster, one redis-server for rate
limits and one FLASK_SECRET_KEY; nginx from Debian balances between them round-robin on
loopback. Client threads submit, read and search through the balancer while an editor
approves and revokes, one server's workers are killed with -9 and a backup is taken. Each
test prints its figures (``pytest -s``); ``BATTERY=full`` runs them longer with more clients.

PostgreSQL only: two servers cannot share a SQLite file, so on the SQLite run of the suite
these tests are skipped, with that reason.
"""
import contextlib
import json
import os
import random
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import ON_POSTGRESQL
from live import CONNECTION_ERRORS
from live import LOAD_LIMITS
from live import Balancer
from live import Client
from live import CountingClient
from live import LiveBoard
from live import Tally
from live import flashes
from live import free_port
from live import hidden_inputs
from live import seed_submission

pytestmark = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="two servers share one database on PostgreSQL only (BOARD_TEST_DATABASE=postgresql)",
)

FULL = os.environ.get("BATTERY") == "full"

# Characters of the tags that make each test submission findable alone: 22**6 tags, none a
# word of the seeds' text.
TAG_CHARACTERS = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"
READ_PAGES = ["/", "/archive", "/search?q=%E5%B7%A5%E8%B5%84", "/lost", "/api/v1/notices",
              "/healthz", "/types/wage_clearance", "/submit"]


def size(fast, full):
    return full if FULL else fast


class Nodes:
    """Two boards on one database and one Redis, and nginx in front of both."""

    def __init__(self, a, b, balancer):
        self.a, self.b, self.balancer = a, b, balancer
        self.base_url = balancer.base_url

    def query(self, sql, **params):
        return self.a.query(sql, **params)

    def logs(self):
        return "\n".join([
            "--- server a ---", self.a.error_log_tail(40),
            "--- server b ---", self.b.error_log_tail(40),
            "--- nginx ---", *self.balancer.passed_on()[-20:],
        ])


@pytest.fixture
def nodes(tmp_path):
    """Start two servers of one board and the balancer in front of them; stop all at the end."""
    with contextlib.ExitStack() as stack:
        port = free_port()
        shared = {
            **LOAD_LIMITS,
            "FLASK_SECRET_KEY": "nodes-" + secrets.token_hex(16),
            # Links name the balancer, whichever server writes them.
            "FLASK_PUBLIC_URL": f"http://127.0.0.1:{port}",
            # nginx passes the client's address in X-Forwarded-For; one proxy is trusted.
            "FLASK_TRUSTED_PROXIES": "1",
        }
        workers = size(2, 4)
        a = stack.enter_context(LiveBoard(tmp_path / "a", env=shared, workers=workers))
        # The second server is pointed at the database the first built, and at its Redis.
        b = stack.enter_context(LiveBoard(
            tmp_path / "b", workers=workers, database_url=a.database_url, init=False,
            env={**shared, "FLASK_RATELIMIT_STORAGE_URI": a.env["FLASK_RATELIMIT_STORAGE_URI"]},
        ))
        balancer = stack.enter_context(Balancer(tmp_path / "nginx", [a.port, b.port], port=port))
        yield Nodes(a, b, balancer)


def tagged_submission(rng):
    """Return (tag, a valid wage clearance whose project name holds the tag, found by it alone)."""
    tag = "".join(rng.choice(TAG_CHARACTERS) for _ in range(6))
    data = seed_submission("wage_clearance")
    data["project_name"] = f"{tag}工程款结算项目"
    return tag, data


def stored_tags(nodes):
    """Return Counter({tag: notices stored with it}) of every notice in the database."""
    tags = Counter()
    for (fields,) in nodes.query("SELECT fields FROM notice"):
        fields = json.loads(fields) if isinstance(fields, str) else fields
        name = fields.get("project_name") or ""
        if name.endswith("工程款结算项目"):
            tags[name.removesuffix("工程款结算项目")] += 1
    return tags


def submit_until_acknowledged(client, data, tally, tries=20):
    """Submit through the API, sending the same Idempotency-Key again after a 5xx or a lost
    connection, as a careful client does; return (the 201's ref or None, attempts)."""
    key = secrets.token_urlsafe(16)
    for attempt in range(1, tries + 1):
        try:
            response = client.submit_api(data, key=key)
        except CONNECTION_ERRORS:
            time.sleep(0.05)
            continue
        if response.status == 201:
            return response.json()["ref"], attempt
        if response.status < 500:
            tally.note(f"refused with {response.status}")
            return None, attempt
        time.sleep(0.05)
    tally.note("never acknowledged")
    return None, tries


def decide(client, ref, action, **form):
    """Approve or revoke ``ref`` from its review page, confirmed at once (the ``confirm``
    field the confirm page posts); return the flash messages after."""
    review = client.get(f"/editor/notices/{ref}")
    token = hidden_inputs(review.text).get("csrf_token")
    response = client.post(f"/editor/notices/{ref}/{action}",
                           form={"csrf_token": token, "confirm": "1", **form})
    if response.status != 302:
        return [("error", f"{response!r}")]
    return flashes(client.follow(response).text)


def found(client, tag, status="all"):
    """Return {ref: state} of the API's search for ``tag`` (a quoted phrase) on one server."""
    response = client.get("/api/v1/notices", params={"q": f'"{tag}"', "status": status})
    if response.status != 200:
        return {"answer": response.status}
    return {item["ref"]: item["status"] for item in response.json()["items"]}


class Load:
    """Client threads through the balancer until stopped: they submit (about a third of their
    requests, each submission with a tag of its own) and read pages and search results."""

    def __init__(self, nodes, clients, seed=0):
        self.nodes = nodes
        self.tally = Tally()
        # Reads and writes apart: nginx passes a failed read to the other server, never a POST
        # that reached one.
        self.reads, self.writes = Tally(), Tally()
        self.lock = threading.Lock()
        self.acknowledged = {}
        # How many requests each acknowledged submission took.
        self.attempts = Counter()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(seed + n,))
                        for n in range(clients)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for thread in self.threads:
            thread.join()

    def run(self, n):
        rng = random.Random(n)
        reader = CountingClient(self.nodes.base_url, self.reads)
        writer = CountingClient(self.nodes.base_url, self.writes)
        while not self.stop_event.is_set():
            if rng.random() < 0.35:
                tag, data = tagged_submission(rng)
                ref, attempts = submit_until_acknowledged(writer, data, self.writes)
                with self.lock:
                    self.attempts[attempts] += 1
                    if ref is not None:
                        self.acknowledged[ref] = tag
            else:
                with contextlib.suppress(*CONNECTION_ERRORS):
                    reader.get(rng.choice(READ_PAGES))


def errors(tally):
    return len(tally.server_errors) + len(tally.connection_errors)


def served_by(board):
    """Return how many requests a server's access log holds."""
    return len(board.access_log.read_text().splitlines()) if board.access_log.exists() else 0


# --- one login, two servers -------------------------------------------------------------------

def test_a_login_and_its_forms_work_on_either_server(nodes):
    """The editor logs in on one server; the other takes the session cookie and the form
    tokens of the first's pages, and a logout on either ends the session on both."""
    submitted = Client(nodes.a.base_url).submit_api(seed_submission("loss_declaration"))
    assert submitted.status == 201, submitted.text
    ref = submitted.json()["ref"]

    on_a = Client(nodes.a.base_url)
    assert on_a.login()
    # The review page comes from a, the approval goes to b with a's form token: one browser
    # whose requests the balancer sends to either, its cookies as a last set them.
    token = hidden_inputs(on_a.get(f"/editor/notices/{ref}").text)["csrf_token"]
    on_b = Client(nodes.b.base_url)
    on_b.cookies.update(on_a.cookies)
    assert on_b.get("/editor/").status == 200
    approved = on_b.post(f"/editor/notices/{ref}/approve", form={"csrf_token": token, "confirm": "1"})
    assert approved.status == 302, approved.text
    status = nodes.query("SELECT status FROM notice WHERE ref = :ref", ref=ref)[0][0]

    token = hidden_inputs(on_b.get("/editor/").text)["csrf_token"]
    assert on_b.post("/editor/logout", form={"csrf_token": token}).status == 302
    # The cookie a had, replayed there after the logout on b.
    after_logout = on_a.get("/editor/")
    print(f"\nnodes: logged in on a, approved on b ({status}); after a logout on b, a answers "
          f"{after_logout.status} to the old cookie")
    assert status == "published"
    assert after_logout.status == 302


# --- idempotency across servers ---------------------------------------------------------------

def test_a_submission_retried_on_the_other_server_is_stored_once(nodes):
    """An API submission sent again with the same Idempotency-Key to the other server, one
    after the other or both at the same moment, is answered with the same ref and stored
    once: both servers derive the same token from the key with the shared secret."""
    rng = random.Random(12)
    rounds = size(10, 50)
    answers, tags = [], []
    a, b = Client(nodes.a.base_url), Client(nodes.b.base_url)
    for n in range(rounds):
        tag, data = tagged_submission(rng)
        key = secrets.token_urlsafe(16)
        if n % 2:
            # Both servers at once: the board's write lock makes one of them wait for the other.
            with ThreadPoolExecutor(2) as pool:
                first, second = pool.map(lambda c: c.submit_api(data, key=key), (a, b))
        else:
            first, second = a.submit_api(data, key=key), b.submit_api(data, key=key)
        answers.append((first.status, second.status,
                        first.json().get("ref") == second.json().get("ref")))
        tags.append(tag)
    stored = stored_tags(nodes)
    twice = [tag for tag in tags if stored[tag] != 1]
    print(f"\nnodes: {rounds} submissions each sent to both servers ({rounds // 2} at the same "
          f"moment): statuses {Counter((f, s) for f, s, _ in answers)}; "
          f"{sum(same for *_, same in answers)} answered with one ref; "
          f"{len(twice)} not stored exactly once")
    assert all(f == 201 and s == 201 and same for f, s, same in answers), answers
    assert not twice, twice


# --- search on both servers at once -----------------------------------------------------------

def test_every_change_is_searchable_on_both_servers_at_once(nodes):
    """Under load through the balancer, an editor (logged in through it, so on both servers)
    submits, approves and revokes; the moment each answer comes back, a search on each server
    directly shows the change: the approved notice found and active, the revoked one found as
    revoked and gone from the default search. Each notice's page and the front page agree."""
    changes = size(5, 30)
    rng = random.Random(5)
    editor = Client(nodes.base_url)
    assert editor.login()
    servers = {"a": Client(nodes.a.base_url), "b": Client(nodes.b.base_url)}
    stale, refused = [], []
    with Load(nodes, size(4, 12), seed=100) as load:
        for _ in range(changes):
            tag, data = tagged_submission(rng)
            ref, _ = submit_until_acknowledged(editor, data, load.writes)
            assert ref is not None
            messages = decide(editor, ref, "approve")
            if not any(category == "success" for category, _ in messages):
                refused.append(f"approve {ref}: {messages}")
                continue
            for name, server in servers.items():
                every, default = found(server, tag), found(server, tag, "active")
                if every != {ref: "active"} or default != {ref: "active"}:
                    stale.append(f"{name} after approving {ref}: search of all {every}, "
                                 f"default search {default}")
                if ref not in server.get("/").text:
                    stale.append(f"{name}'s front page after approving {ref}")
            messages = decide(editor, ref, "revoke", reason="提交人申请撤销")
            if not any(category == "success" for category, _ in messages):
                refused.append(f"revoke {ref}: {messages}")
                continue
            for name, server in servers.items():
                every, default = found(server, tag), found(server, tag, "active")
                if every != {ref: "revoked"} or default:
                    stale.append(f"{name} after revoking {ref}: search of all {every}, "
                                 f"default search {default}")
                if server.get(f"/api/v1/notices/{ref}").json().get("status") != "revoked":
                    stale.append(f"{name}'s notice {ref} after revoking it")
    print(f"\nnodes: {changes} notices submitted, approved and revoked through the balancer "
          f"beside {load.reads.requests + load.writes.requests} requests of load; "
          f"{len(stale)} stale answers from a server; {len(refused)} decisions refused")
    for line in stale[:20]:
        print("  ", line)
    assert not refused, refused
    assert not stale, stale[:20]
    assert not errors(load.reads) and not errors(load.writes), nodes.logs()


# --- a server killed under load ---------------------------------------------------------------

def test_a_server_killed_under_load_loses_no_acknowledged_submission(nodes):
    """Clients submit and read through the balancer while one server's workers are killed
    with -9 again and again, and then the whole server. Every submission acknowledged with a
    201 is in the database, once; a client that resends after an error with the same key is
    answered; reads never fail (nginx passes them to the other server) unless a worker was
    killed after it had begun its answer, which nginx has then begun passing on and cannot send
    elsewhere (rare: reported, and bounded); the other server answers alone at the end. Writes
    cut by a kill are counted and reported."""
    seconds, clients = size(8, 60), size(4, 12)
    kill_every = size(1.0, 3.0)
    kills = Counter()
    editor = CountingClient(nodes.base_url, Tally())
    assert editor.login()
    approved = []
    with Load(nodes, clients, seed=200) as load:
        started = time.monotonic()
        # Two thirds of the run: b's workers killed every few seconds, its master starting
        # new ones; the last third: b gone altogether.
        while time.monotonic() - started < seconds * 2 / 3:
            time.sleep(kill_every)
            kills["workers of b"] += nodes.b.kill_workers()
            kills["rounds"] += 1
            with contextlib.suppress(*CONNECTION_ERRORS):
                for ref in editor.queue_refs()[:2]:
                    _, messages = editor.approve(ref)
                    if any(category == "success" for category, _ in messages):
                        approved.append(ref)
        nodes.b.crash()
        crashed, reads_before_crash = time.monotonic(), load.reads.requests
        time.sleep(seconds / 3)
        alone = Tally()
        after = [CountingClient(nodes.base_url, alone).get("/healthz").status for _ in range(20)]
        took = time.monotonic() - started

    stored = {ref for (ref,) in nodes.query("SELECT ref FROM notice")}
    tags = stored_tags(nodes)
    lost = sorted(set(load.acknowledged) - stored)
    duplicated = sorted(tag for tag, count in tags.items() if count > 1)
    retried = sum(count for attempts, count in load.attempts.items() if attempts > 1)
    cut = errors(load.writes)
    print(f"\nnodes: {clients} clients through nginx for {took:.1f} s; killed all of b's workers "
          f"{kills['rounds']} times ({kills['workers of b']} workers), then b itself at "
          f"{crashed - started:.1f} s")
    print(f"nodes: {load.reads.requests} reads ({reads_before_crash} before b went), statuses "
          f"{dict(load.reads.statuses)}, {errors(load.reads)} errors; {load.writes.requests} "
          f"submission requests, statuses {dict(load.writes.statuses)}, {cut} cut by a kill")
    print(f"nodes: {len(load.acknowledged)} submissions acknowledged ({retried} after a retry "
          f"with the same key), {len(lost)} lost, {len(duplicated)} stored twice; outcomes "
          f"{dict(load.writes.outcomes)}; {len(approved)} approved meanwhile; served by a "
          f"{served_by(nodes.a)}, by b {served_by(nodes.b)}; nginx passed "
          f"{len(nodes.balancer.passed_on())} requests on; with b gone: {Counter(after)}")
    assert kills["workers of b"] > 0
    assert not lost, lost[:20]
    assert not duplicated, duplicated[:20]
    assert not load.writes.outcomes, dict(load.writes.outcomes)
    cut_reads = [e for e in load.reads.connection_errors if "IncompleteRead" in e]
    failed_reads = load.reads.server_errors + [
        e for e in load.reads.connection_errors if "IncompleteRead" not in e
    ]
    print(f"nodes: {len(cut_reads)} reads cut part way by a kill")
    assert not failed_reads, failed_reads[:10]
    assert len(cut_reads) <= max(2, load.reads.requests // 200), cut_reads[:10]
    assert after == [200] * 20 and not errors(alone)


# --- a backup under load ----------------------------------------------------------------------

def test_a_backup_under_load_restores_with_no_difference(nodes):
    """A backup taken on one server while clients submit through the balancer and an editor
    approves holds every submission and decision acknowledged before it began; restored into
    a new database, it passes check-index and holds nothing the live board does not."""
    seconds, clients = size(6, 40), size(4, 12)
    editor = Client(nodes.base_url)
    assert editor.login()
    approved = []
    with Load(nodes, clients, seed=300) as load:
        deadline = time.monotonic() + seconds
        backup_at = time.monotonic() + seconds / 2
        backup = None
        while time.monotonic() < deadline:
            with contextlib.suppress(*CONNECTION_ERRORS):
                for ref in editor.queue_refs()[:2]:
                    _, messages = editor.approve(ref)
                    if any(category == "success" for category, _ in messages):
                        approved.append(ref)
            if backup is None and time.monotonic() >= backup_at:
                acknowledged_before, approved_before = set(load.acknowledged), set(approved)
                backup = nodes.a.tmp / "backup"
                backup_started = time.monotonic()
                nodes.a.flask("backup", str(backup))
                backup_took = time.monotonic() - backup_started

    elsewhere = nodes.a.new_database("restored")
    restored = {"FLASK_SQLALCHEMY_DATABASE_URI": elsewhere,
                "FLASK_SEARCH_INDEX_DIR": str(nodes.a.tmp / "restored-index")}
    nodes.a.flask("restore", "--yes", str(backup), env=restored)
    check = nodes.a.flask("check-index", check=False, env=restored)
    in_backup = dict(nodes.a.query("SELECT ref, status FROM notice", database=elsewhere))
    live = {ref for (ref,) in nodes.query("SELECT ref FROM notice")}
    differences = [f"{ref}: acknowledged before the backup, not in it"
                   for ref in sorted(acknowledged_before - in_backup.keys())]
    differences += [f"{ref}: approved before the backup, {in_backup.get(ref)} in it"
                    for ref in sorted(approved_before) if in_backup.get(ref) != "published"]
    differences += [f"{ref}: in the backup, not on the board" for ref in sorted(in_backup.keys() - live)]
    if check.returncode:
        differences += check.stdout.strip().splitlines()
    print(f"\nnodes: backup taken on a in {backup_took:.2f} s under load "
          f"({load.reads.requests + load.writes.requests} requests through nginx, "
          f"{errors(load.reads) + errors(load.writes)} errors); {len(acknowledged_before)} "
          f"submissions and {len(approved_before)} approvals acknowledged before it began; "
          f"{len(in_backup)} notices restored; {len(differences)} differences")
    assert not differences, differences[:20]
    assert not errors(load.reads) and not errors(load.writes), nodes.logs()

