"""The board under gunicorn, attacked from outside: load, crashes, hostile input, its logs.

Every test serves a fresh board with the production settings (tests/live.py) and talks to it
over loopback HTTP only. ``BATTERY=full`` runs the full sizes (minutes); the default sizes
take seconds each, to fit in ``make test``. Each test prints its figures (``pytest -s``).
"""
import contextlib
import itertools
import json
import os
import queue
import random
import re
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from live import CONNECTION_ERRORS
from live import EDITOR
from live import EDITOR_PASSWORD
from live import LOAD_LIMITS
from live import Client
from live import CountingClient
from live import LiveBoard
from live import Tally
from live import encode_value
from live import field_names
from live import hidden_pairs
from live import seed_submission
from live import urlencode
from live import varied_submission
from markupsafe import escape
from payloads import TEN_MEGABYTES
from payloads import Payload
from payloads import as_text
from payloads import corpus
from payloads import injected_markup
from payloads import raw_in_page

from notices import kinds
from notices import services

FULL = os.environ.get("BATTERY") == "full"

REF = re.compile(r"\b[A-Z]{2}-\d{8}-[0-9A-Z]{5}\b")
SEARCH_WORDS = ["工资", "西藏", "遗失", "声明", "供应商", "专家", "拉萨", "公司", "营业执照",
                "T540059774", "卡如温泉", "征集", "\"民工工资\"", "扎西"]
PUBLIC_PAGES = [
    "/", "/archive", "/search", "/lost", "/lost?number=T540059774", "/submit", "/healthz",
    "/api/v1/notices", "/api/v1/notices?status=all&per_page=50",
    "/api/v1/lost-documents?number=T540059774",
    *(f"/types/{code}" for code in kinds.KINDS),
    *(f"/submit/{code}" for code in kinds.KINDS),
]


def size(fast, full):
    return full if FULL else fast


@pytest.fixture
def live(tmp_path):
    """Start boards in this test's tmp dir, with load-sized rate limits; stop them at the end."""
    with contextlib.ExitStack() as stack:

        def start(name="board", env=None, **options):
            board = LiveBoard(tmp_path / name, env={**LOAD_LIMITS, **(env or {})}, **options)
            return stack.enter_context(board)

        yield start


def form_pairs(data):
    """Return an API submission as the pairs its HTML form posts."""
    return services.flatten({k: v for k, v in data.items() if k != "type"})


def failures_report(tally, board, limit=10):
    lines = tally.server_errors[:limit] + tally.connection_errors[:limit]
    return "\n".join(lines) + "\n--- gunicorn error log ---\n" + board.error_log_tail()


# --- a. load -----------------------------------------------------------------------------

def test_load_loses_nothing_and_answers_no_5xx(live):
    """Many clients at once submitting, searching, reading and approving get no 5xx and no
    dropped connection; every acknowledged submission is in the database; the search index
    equals the published notices within 15 s of the load stopping."""
    clients, seconds = size(20, 200), size(5, 60)
    editors = max(2, clients // 10)
    board = live(indexer=True)
    tally = Tally()
    acknowledged, approved, refused_valid = [], [], []
    numbers = itertools.count()
    deadline = time.monotonic() + seconds

    def submit(client, rng):
        data = varied_submission(next(numbers))
        if rng.random() < 0.8:
            response = client.submit_api(data)
            if response.status == 201:
                acknowledged.append(response.json()["ref"])
                return
        else:
            preview, confirm = client.submit_form(data["type"], form_pairs(data))
            response = confirm or preview
            if confirm is not None and confirm.status == 302:
                receipt = client.follow(confirm)
                if REF.search(receipt.text):
                    acknowledged.append(REF.search(receipt.text).group())
                    return
                response = receipt
        if response.status < 500:
            refused_valid.append(f"{response!r}: {response.text[:200]}")

    def read(client, rng):
        choice = rng.random()
        if choice < 0.3:
            client.search(rng.choice(SEARCH_WORDS), status=rng.choice(["active", "all"]))
        elif choice < 0.6:
            client.api_search(rng.choice(SEARCH_WORDS), sort=rng.choice(["relevance", "date"]))
        elif choice < 0.8 and approved:
            ref = rng.choice(approved)
            client.get(rng.choice([f"/notices/{ref}", f"/api/v1/notices/{ref}"]))
        else:
            client.get(rng.choice(PUBLIC_PAGES))

    def visitor(n):
        client = CountingClient(board.base_url, tally)
        rng = random.Random(n)
        while time.monotonic() < deadline:
            with contextlib.suppress(*CONNECTION_ERRORS):
                if rng.random() < 0.35:
                    submit(client, rng)
                else:
                    read(client, rng)

    logged_in = []

    def editor(n):
        client = CountingClient(board.base_url, tally)
        rng = random.Random(-n)
        with contextlib.suppress(*CONNECTION_ERRORS):
            if client.login():
                logged_in.append(n)
        while time.monotonic() < deadline:
            with contextlib.suppress(*CONNECTION_ERRORS):
                refs = client.queue_refs()
                for ref in rng.sample(refs, min(3, len(refs))):
                    _, messages = client.approve(ref)
                    if any(category == "success" for category, _ in messages):
                        approved.append(ref)
                read(client, rng)

    threads = [threading.Thread(target=editor, args=(n,)) for n in range(editors)]
    threads += [threading.Thread(target=visitor, args=(n,)) for n in range(clients - editors)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    # Halfway through, a backup of the board as it serves.
    time.sleep(seconds / 2)
    before_backup = set(acknowledged)
    # A SQLite copy of the database, or pg_dump's archive of it on PostgreSQL.
    backup = board.tmp / "backup"
    backup_started = time.monotonic()
    board.flask("backup", str(backup))
    backup_took = time.monotonic() - backup_started
    for thread in threads:
        thread.join()
    took = time.monotonic() - started

    stored = {ref for (ref,) in board.query("SELECT ref FROM notice")}
    missing = sorted(set(acknowledged) - stored)
    matched, waited, differences = board.wait_for_index(timeout=15)
    published = board.query("SELECT count(*) FROM notice WHERE status = 'published'")[0][0]
    print(f"\nload: {clients} clients ({editors} editors) for {seconds} s: "
          f"{tally.requests} requests in {took:.1f} s ({tally.requests / took:.0f}/s), "
          f"statuses {dict(tally.statuses)}")
    print(f"load: {len(acknowledged)} submissions acknowledged, {len(missing)} missing from the "
          f"database, {len(refused_valid)} valid ones refused; {len(approved)} approved, "
          f"{published} published; index {'matched' if matched else 'did NOT match'} "
          f"{waited:.1f} s after the load stopped")
    assert not tally.server_errors and not tally.connection_errors, failures_report(tally, board)
    assert not missing, f"acknowledged but not stored: {missing[:20]}"
    assert not refused_valid, refused_valid[:10]
    # The load did what it claims: every editor got in and published, and the index follows.
    assert len(logged_in) == editors
    assert len(approved) >= editors and published == len(approved)
    assert matched, differences

    # The restore drill: the backup taken under load, restored elsewhere and reindexed.
    elsewhere = board.new_database("restored")
    restored = {
        "FLASK_SQLALCHEMY_DATABASE_URI": elsewhere,
        "FLASK_SEARCH_INDEX_DIR": str(board.tmp / "restored-index"),
    }
    board.flask("restore", "--yes", str(backup), env=restored)
    check = board.flask("check-index", check=False, env=restored)
    in_backup = {ref for (ref,) in board.query("SELECT ref FROM notice", database=elsewhere)}
    lost = sorted(before_backup - in_backup)
    print(f"backup: taken in {backup_took:.2f} s under load; {len(before_backup)} submissions "
          f"acknowledged before it began, {len(lost)} missing from it; {len(in_backup)} notices "
          f"restored; check-index after the restore: {check.stdout.strip().splitlines()[-1]}")
    assert not lost, lost[:20]
    assert check.returncode == 0, check.stdout


def test_a_backup_restored_into_the_serving_board_leaves_it_consistent(live):
    """A restore replaces the data of a board that goes on serving: readers and an editor at
    work meanwhile get no 5xx; afterwards the database holds exactly the backup's notices,
    every login has ended, and the index equals the published notices."""
    board = live(indexer=True)
    editor = Client(board.base_url)
    assert editor.login()
    saved = submit_many(board, size(10, 60))
    for ref in saved[::2]:
        editor.approve(ref)
    backup = board.tmp / "before"
    board.flask("backup", str(backup))
    later = submit_many(board, size(6, 30))
    for ref in later[::2]:
        editor.approve(ref)

    tally = Tally()
    stop = threading.Event()

    def reader(n):
        client = CountingClient(board.base_url, tally)
        rng = random.Random(n)
        while not stop.is_set():
            with contextlib.suppress(*CONNECTION_ERRORS):
                ref = rng.choice(saved + later)
                client.get(rng.choice(["/", "/search?q=%E9%81%97%E5%A4%B1", "/api/v1/notices", f"/notices/{ref}"]))

    def approver():
        client = CountingClient(board.base_url, tally)
        client.login()
        while not stop.is_set():
            with contextlib.suppress(*CONNECTION_ERRORS):
                for ref in client.queue_refs()[:2]:
                    client.approve(ref)

    threads = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(size(4, 12))]
    threads.append(threading.Thread(target=approver, daemon=True))
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        restore = board.flask("restore", "--yes", str(backup))
        time.sleep(1)
    finally:
        # A failed restore must not leave the clients running past the test.
        stop.set()
        for thread in threads:
            thread.join()

    stored = {ref for (ref,) in board.query("SELECT ref FROM notice")}
    matched, waited, differences = board.wait_for_index(timeout=15)
    open_logins = board.query("SELECT count(*) FROM login_session WHERE ended_at IS NULL")[0][0]
    print(f"\nrestore while serving: {tally.requests} requests meanwhile, statuses "
          f"{dict(tally.statuses)}; {restore.stdout.strip().splitlines()[0]}")
    print(f"restore: {len(stored)} notices after it ({len(saved)} in the backup, {len(later)} made "
          f"after it); index {'matched' if matched else 'did NOT match'} after {waited:.1f} s")
    assert not tally.server_errors and not tally.connection_errors, failures_report(tally, board)
    assert stored == set(saved)
    assert open_logins <= 1  # the approver may have logged in again; nobody else
    assert matched, differences


# --- b. crashes --------------------------------------------------------------------------

def submit_many(board, count, threads=4):
    """Submit ``count`` valid notices through the API; return their refs."""
    tally = Tally()

    def one(n):
        client = CountingClient(board.base_url, tally)
        response = client.submit_api(varied_submission(n))
        assert response.status == 201, response.text
        return response.json()["ref"]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def test_killed_workers_and_indexer_leave_nothing_half_done(live):
    """Approvals go on while gunicorn workers and the indexer are killed with -9 over and
    over. Retried requests are answered (an approval that had already gone through is
    refused, not a 500); afterwards the database passes its integrity check, the index
    matches it, and every approval is whole: published with its dates and exactly one
    approve entry in the audit trail, and nothing published without one."""
    approvals, approvers = size(60, 1000), size(3, 4)
    worker_every, indexer_every = size(0.3, 1.5), size(1.0, 5.0)
    board = live(indexer=True)
    refs = submit_many(board, approvals)
    todo = queue.Queue()
    for ref in refs:
        todo.put(ref)
    tally = Tally()
    unexpected, kills = [], Counter()
    stop = threading.Event()

    def chaos():
        # The first kills come at once, so even a short run has both.
        next_worker = next_indexer = time.monotonic()
        while not stop.wait(0.02):
            now = time.monotonic()
            if now >= next_worker:
                if board.kill_worker() is not None:
                    kills["worker"] += 1
                next_worker = now + worker_every
            if now >= next_indexer:
                board.restart_indexer()
                kills["indexer"] += 1
                next_indexer = now + indexer_every

    def log_in(client):
        for _ in range(50):
            with contextlib.suppress(*CONNECTION_ERRORS):
                if client.login():
                    return
            time.sleep(0.05)
        raise AssertionError("could not log in")

    def approve_until_answered(client, ref):
        for attempt in range(50):
            try:
                response, messages = client.approve(ref)
            except CONNECTION_ERRORS:
                tally.note("retried")
                time.sleep(0.05)
                continue
            if response.status >= 500:
                tally.note("retried")
                continue
            text = " ".join(message for _, message in messages)
            if any(category == "success" for category, _ in messages):
                tally.note("published")
            elif attempt > 0 and "已发布" in text:
                tally.note("refused after a retry")
            else:
                unexpected.append(f"{ref}: {response!r} {messages}")
            return
        unexpected.append(f"{ref}: no answer after 50 attempts")

    def approver():
        client = CountingClient(board.base_url, tally)
        log_in(client)
        while True:
            try:
                ref = todo.get_nowait()
            except queue.Empty:
                return
            approve_until_answered(client, ref)

    started = time.monotonic()
    killer = threading.Thread(target=chaos)
    killer.start()
    threads = [threading.Thread(target=approver) for _ in range(approvers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    killer.join()
    took = time.monotonic() - started

    if board.indexer is None or board.indexer.poll() is not None:
        board.start_indexer()
    matched, waited, differences = board.wait_for_index(timeout=30)
    integrity = board.integrity()
    statuses = dict(board.query("SELECT ref, status FROM notice WHERE ref IN :refs", refs=refs))
    not_published = sorted(ref for ref in refs if statuses.get(ref) != "published")
    half_done = board.query("""
        SELECT n.ref, n.status, n.published_at, n.window_start, n.window_end,
               (SELECT count(*) FROM audit_entry a WHERE a.notice_id = n.id AND a.action = 'approve')
        FROM notice n""")
    half_done = [
        row for row in half_done
        if (row[1] in ("published", "revoked")) != (row[5] == 1)
        or row[5] > 1
        or (row[1] == "published" and None in row[2:5])
    ]
    outbox = board.query("SELECT count(*) FROM index_outbox")[0][0]
    print(f"\ncrash: {approvals} approvals by {approvers} clients in {took:.1f} s; "
          f"killed {kills['worker']} workers (every {worker_every} s) and the indexer "
          f"{kills['indexer']} times (every {indexer_every} s)")
    print(f"crash: outcomes {dict(tally.outcomes)}; {len(tally.connection_errors)} requests cut by a "
          f"kill; statuses {dict(tally.statuses)}; unexpected answers {len(unexpected)}")
    print(f"crash: integrity {integrity or 'ok'}; {len(not_published)} not published; {len(half_done)} "
          f"half-done; outbox {outbox}; index {'matched' if matched else 'did NOT match'} after "
          f"{waited:.1f} s")
    assert kills["worker"] > 0 and kills["indexer"] > 0
    assert not tally.server_errors, failures_report(tally, board)
    assert not unexpected, unexpected[:10]
    assert not integrity, integrity
    assert not not_published, not_published[:20]
    assert not half_done, half_done[:10]
    assert matched and outbox == 0, differences


# --- c. hostile input --------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """Where a payload goes: a form field, an API field, a query parameter or a path."""

    route: str
    name: str
    code: str = ""

    def __str__(self):
        return f"{self.route}:{self.code + '/' if self.code else ''}{self.name}"


# Fields of each type that are published (or shown to editors), for the escaping check.
SHOWN_FIELDS = [
    ("supplier_call", "issuer"), ("supplier_call", "participation"),
    ("supplier_call", "requirements"), ("supplier_call", "details"),
    ("expert_call", "contact_unit"), ("expert_call", "contact_name"),
    ("wage_clearance", "contractor"), ("wage_clearance", "project_name"),
    ("wage_clearance", "authority"), ("loss_declaration", "declarant"),
    ("loss_declaration", "items-0-owner_name"), ("loss_declaration", "submitter_name"),
]
PATHS = ["/notices/{}", "/api/v1/notices/{}", "/track/{}", "/track/{}/withdraw", "/types/{}",
         "/submit/{}"]
API_QUERY = ["q", "type", "status", "page", "per_page", "sort", "from", "to", "issuer"]


@pytest.fixture(scope="module")
def shared_board(tmp_path_factory):
    """One board for the tests whose attacks leave nothing behind that others would see."""
    with LiveBoard(tmp_path_factory.mktemp("shared"), env=LOAD_LIMITS) as board:
        yield board


def hostile_targets(board):
    """Every field a person or a script can fill in, read from the board's own forms."""
    client = Client(board.base_url)
    targets = []
    for code in kinds.KINDS:
        names = field_names(client.get(f"/submit/{code}").text)
        targets += [Target("form", name, code) for name in names + ["action"]]
        targets += [Target("api", name, code) for name in names + ["type", "Idempotency-Key"]]
        targets += [Target("api_without_key", name, code) for name in names]
    targets += [Target("search", name) for name in field_names(client.get("/search").text)]
    targets += [Target("search", "page")]
    targets += [Target("api_search", name) for name in API_QUERY]
    targets += [Target("lost", "number"), Target("api_lost", "number")]
    targets += [Target("login", name) for name in ("username", "password", "next")]
    targets += [Target("path", path) for path in PATHS]
    return targets


def api_body(target, value):
    """Return a valid API submission with ``target``'s field set to ``value``, as bytes.

    Bytes values go into the JSON text as they are, so the body can be invalid UTF-8.
    """
    data = seed_submission(target.code)
    marker = "@@PAYLOAD@@"
    if target.name.startswith("items-"):
        _, index, key = target.name.split("-", 2)
        data["items"][int(index)][key] = marker
    else:
        data[target.name] = marker
    body = json.dumps(data).encode("ascii")
    if isinstance(value, bytes):
        return body.replace(marker.encode(), value)
    return body.replace(json.dumps(marker).encode(), json.dumps(value).encode("ascii"))


def replaced(pairs, name, value):
    """Return form pairs with every value of ``name`` replaced by ``value`` (once)."""
    kept = [(k, v) for k, v in pairs if k != name]
    return kept + [(name, value)]


class Attack:
    """Sends payloads to targets with one client of its own.

    It keeps what was stored (ref, payload, target, tracking path), every 5xx and lost
    connection with the payload that caused it, and every HTML answer in which markup came
    back unescaped.
    """

    def __init__(self, board, tally):
        self.client = CountingClient(board.base_url, tally)
        self.token = self.client.csrf_token("/editor/login")
        self.payload, self.target = None, None
        self.stored, self.failures, self.escapes = [], [], []
        # Published payloads whose escaped text was found on the notice's page.
        self.seen_escaped = 0

    def send(self, payload, target):
        self.payload, self.target = payload, target
        try:
            getattr(self, target.route)(payload.value)
        except CONNECTION_ERRORS as error:
            self.failures.append(f"{target} {payload.label}: {error!r}")

    def get(self, path, **kwargs):
        return self.check(self.client.get(path, **kwargs))

    def post(self, path, **kwargs):
        return self.check(self.client.post(path, **kwargs))

    def check(self, response):
        """Record a 5xx, or markup that came back unescaped in an HTML answer."""
        if response.status >= 500:
            self.failures.append(f"{self.target} {self.payload.label}: {response!r}")
        if response.is_html:
            findings = injected_markup(response.text)
            if raw_in_page(self.payload, response.text):
                findings.append("payload appears unescaped")
            if findings:
                self.escapes.append(f"{response!r} {self.payload.label}: {findings}")
        return response

    def form(self, value):
        code, name = self.target.code, self.target.name
        pairs = [("csrf_token", self.token), *form_pairs(seed_submission(code)), ("action", "preview")]
        preview = self.post(f"/submit/{code}", form=replaced(pairs, name, value))
        if preview.status == 200 and "submission_key" in preview.text:
            confirm = self.post(f"/submit/{code}/confirm", form=hidden_pairs(preview.text))
            if confirm.status == 302:
                receipt = self.get(confirm.location)
                if REF.search(receipt.text):
                    ref = REF.search(receipt.text).group()
                    self.stored.append((ref, self.payload, self.target, confirm.location))

    def api(self, value, key=True):
        """Submit through the API, then open the tracking page as the submitter would."""
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = os.urandom(8).hex()
        if self.target.name == "Idempotency-Key":
            raw = encode_value(value)
            if b"\r" in raw or b"\n" in raw or b"\x00" in raw:
                return
            headers["Idempotency-Key"] = raw
            body = api_body(Target("api", "submitter_name", self.target.code), "提交人")
        else:
            body = api_body(self.target, value)
        response = self.post("/api/v1/submissions", body=body, headers=headers)
        if response.status == 201:
            tracking = urllib.parse.urlsplit(response.json()["tracking_url"]).path
            self.get(tracking)
            self.stored.append((response.json()["ref"], self.payload, self.target, tracking))

    def api_without_key(self, value):
        self.api(value, key=False)

    def query(self, name, value):
        return [("q", value)] if name == "q" else [("q", "工资"), (name, value)]

    def search(self, value):
        self.get("/search", params=self.query(self.target.name, value))

    def api_search(self, value):
        self.get("/api/v1/notices", params=self.query(self.target.name, value))

    def lost(self, value):
        self.get("/lost", params=[("number", value)])

    def api_lost(self, value):
        self.get("/api/v1/lost-documents", params=[("number", value)])

    def login(self, value):
        fields = {"csrf_token": self.token, "username": "nobody", "password": "wrong-password"}
        path = "/editor/login"
        if self.target.name == "next":
            path += "?" + urlencode({"next": value})
        else:
            fields[self.target.name] = value
        self.post(path, form=fields)

    def path(self, value):
        self.get(self.target.name.format(urllib.parse.quote_from_bytes(encode_value(value), safe="")))

    def read_back(self, editor, ref, tracking):
        """Publish a stored payload as an editor, then read every page that shows it."""
        _, messages = editor.approve(ref)
        self.check(editor.get(f"/editor/notices/{ref}"))
        if not any(category == "success" for category, _ in messages):
            return False
        page = self.get(f"/notices/{ref}")
        self.seen_escaped += str(escape(as_text(self.payload.value).strip())) in page.text
        self.get(tracking)
        self.get("/search", params={"q": as_text(self.payload.value)[:200], "status": "all"})
        return True


def pick_targets(payload, targets, rng):
    """Return the targets one payload is sent to, drawn at random (the same every run).

    A naughty string goes to one target (eight with BATTERY=full); an encoding payload to
    targets of every route, since each route decodes its input its own way; the board's
    other payloads, fewer and sharper than the list, to a few.
    """
    if payload.source == "encoding":
        chosen = []
        for route in sorted({t.route for t in targets}):
            of_route = [t for t in targets if t.route == route]
            chosen += rng.sample(of_route, min(size(1, 3), len(of_route)))
        return chosen
    return rng.sample(targets, size(1, 8) if payload.source == "blns" else size(2, 16))


def shown_submissions(payloads, limit):
    """Return (payload, target) pairs that put payloads where the public or editors see them.

    Markup payloads (up to ``limit``) and every encoding payload each go into one of the
    SHOWN_FIELDS in turn, through the API without an idempotency key.
    """
    markup = [p for p in payloads if p.is_markup and isinstance(p.value, str)][:limit]
    chosen = markup + [p for p in payloads if p.source == "encoding"]
    return [
        (payload, Target("api_without_key", *reversed(SHOWN_FIELDS[n % len(SHOWN_FIELDS)])))
        for n, payload in enumerate(chosen)
    ]


def test_hostile_payloads_get_no_5xx_and_come_back_escaped(live):
    """The naughty strings, Whoosh syntax, NULs, invalid UTF-8 and huge values in every
    field, query and path get a 2xx-4xx answer, never a 5xx; none comes back as markup,
    and those that are stored and published are shown escaped, on the notice's page, in
    search results, on the tracking page and on the editor's review page."""
    board = live()
    published_limit = size(40, 400)
    payloads = corpus()
    targets = hostile_targets(board)
    rng = random.Random(20240308)
    jobs = [(p, t) for p in payloads for t in pick_targets(p, targets, rng)]
    jobs += shown_submissions(payloads, published_limit)
    tally = Tally()
    local = threading.local()
    attacks = []

    def run(job):
        if not hasattr(local, "attack"):
            local.attack = Attack(board, tally)
            attacks.append(local.attack)
        local.attack.send(*job)

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(run, jobs))
    payload_requests, attack_time = tally.requests, time.monotonic() - started

    # An editor publishes what was stored, odd encodings and markup first; then every page
    # showing it is read.
    stored = [s for a in attacks for s in a.stored]
    stored.sort(key=lambda s: (s[1].source != "encoding", not s[1].is_markup))
    checker = Attack(board, tally)
    editor = CountingClient(board.base_url, tally)
    assert editor.login()
    published = 0
    for ref, payload, target, tracking in stored[:published_limit]:
        checker.payload, checker.target = payload, Target("read back", ref)
        with contextlib.suppress(*CONNECTION_ERRORS):
            published += checker.read_back(editor, ref, tracking)
    checker.payload, checker.target = Payload("", "listing"), Target("listing", "pages")
    for path in ["/", "/archive", *(f"/types/{code}" for code in kinds.KINDS)]:
        with contextlib.suppress(*CONNECTION_ERRORS):
            checker.get(path)
    with contextlib.suppress(*CONNECTION_ERRORS):
        checker.check(editor.get("/editor/"))
    matched, waited, differences = board.wait_for_index(timeout=15)
    failures = [f for a in attacks + [checker] for f in a.failures]
    escapes = [e for a in attacks + [checker] for e in a.escapes]
    print(f"\nhostile: {len(payloads)} payloads into {len(targets)} targets, {len(jobs)} attacks, "
          f"{payload_requests} requests in {attack_time:.1f} s; "
          f"statuses {dict(tally.statuses)}")
    print(f"hostile: {len(stored)} stored, {published} published and read back (escaped text "
          f"found verbatim on {checker.seen_escaped} of their pages); "
          f"{len(tally.server_errors)} 5xx, {len(tally.connection_errors)} connection errors, "
          f"{len(escapes)} unescaped; index {'matched' if matched else 'did NOT match'} "
          f"after {waited:.1f} s")
    for line in failures + escapes:
        print("  ", line)
    assert not failures, "\n".join(failures[:20]) + "\n" + board.error_log_tail()
    assert not tally.server_errors and not tally.connection_errors, failures_report(tally, board)
    assert not escapes, escapes[:10]
    assert matched, differences


def test_the_markup_check_finds_injected_markup():
    """The escaping check is not vacuous: it finds markup that would run, and only that."""
    page = '<html><head><title>t</title></head><body><p>{}</p></body></html>'
    assert injected_markup(page.format("&lt;script&gt;alert(1)&lt;/script&gt;")) == []
    assert injected_markup(page.format("<script>alert(1)</script>")) == ["<script> element ×1"]
    assert injected_markup(page.format('<a href="javascript:alert(1)">x</a>'))
    assert injected_markup(page.format('<input value="" onfocus=alert(1) autofocus>'))
    payload = Payload("<b>bold</b>", "test")
    assert raw_in_page(payload, page.format(payload.value))
    assert not raw_in_page(payload, page.format(escape(payload.value)))


def test_a_ten_megabyte_body_is_refused_with_413(shared_board):
    """A 10 MB body to the submission API and to the forms is refused with 413."""
    client = Client(shared_board.base_url)
    filler = b"x" * TEN_MEGABYTES
    bodies = {
        "/api/v1/submissions": (b'{"type": "wage_clearance", "contractor": "' + filler + b'"}',
                                "application/json"),
        "/submit/wage_clearance": (b"contractor=" + filler, "application/x-www-form-urlencoded"),
        "/editor/login": (b"username=" + filler, "application/x-www-form-urlencoded"),
    }
    answers = {}
    for path, (body, content_type) in bodies.items():
        try:
            answers[path] = client.send_large(path, body, content_type).status
        except CONNECTION_ERRORS as error:
            answers[path] = repr(error)
    print(f"\n10 MB bodies: {answers}")
    assert client.get("/healthz").status == 200
    assert answers == {path: 413 for path in bodies}


def test_form_routes_refuse_a_missing_or_wrong_csrf_token(shared_board):
    """Every form that changes something answers 400 to a post without a csrf_token, with a
    made-up one, or with a valid token from another session, and changes nothing."""
    board = shared_board
    editor = Client(board.base_url)
    assert editor.login()
    submitted = editor.submit_api(seed_submission("wage_clearance"))
    ref = submitted.json()["ref"]
    token = urllib.parse.urlsplit(submitted.json()["tracking_url"]).path.rsplit("/", 1)[1]
    user_id = board.query('SELECT id FROM "user" WHERE username = :name', name=EDITOR)[0][0]
    routes = [f"/submit/{code}" for code in kinds.KINDS]
    routes += [f"/submit/{code}/confirm" for code in kinds.KINDS]
    routes += ["/editor/login", "/editor/logout", "/editor/users",
               f"/editor/users/{user_id}/active", f"/editor/users/{user_id}/password",
               f"/editor/notices/{ref}/approve", f"/editor/notices/{ref}/reject",
               f"/editor/notices/{ref}/revoke", f"/track/{token}/withdraw"]
    stranger = Client(board.base_url)
    tokens = {
        "no token": None,
        "made-up token": "IjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAi.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "another session's token": stranger.csrf_token("/editor/login"),
    }
    wrong = []
    for route, (what, csrf) in itertools.product(routes, tokens.items()):
        fields = {"reason": "测试", "username": "live-editor", "password": EDITOR_PASSWORD,
                  "active": "0", **({"csrf_token": csrf} if csrf else {})}
        response = editor.post(route, form=fields)
        if response.status != 400:
            wrong.append(f"{route} with {what}: {response.status}")
    status = board.query("SELECT status FROM notice WHERE ref = :ref", ref=ref)[0][0]
    print(f"\ncsrf: {len(routes) * len(tokens)} posts to {len(routes)} routes; "
          f"{len(wrong)} not refused with 400; notice still {status}")
    assert not wrong, wrong
    assert status == "submitted"
    assert editor.get("/editor/").status == 200


# --- d. logs -----------------------------------------------------------------------------

def test_logs_keep_no_password_cookie_tracking_token_or_id_number(live):
    """After a login, a submission followed on its tracking page and a lookup of a full ID
    number, neither the access log nor the error log holds the password, a session cookie,
    the tracking token or the full ID number."""
    board = live()
    id_number = "540102199001011233"
    editor = Client(board.base_url)
    assert not editor.login(password="typo-" + EDITOR_PASSWORD)
    assert editor.login()
    item = {"owner_name": "", "document_type": "id_card", "document_number": id_number}
    submitted = editor.submit_api(seed_submission("loss_declaration", items=[item]))
    assert submitted.status == 201, submitted.text
    ref, tracking_url = submitted.json()["ref"], submitted.json()["tracking_url"]
    token = urllib.parse.urlsplit(tracking_url).path.rsplit("/", 1)[1]
    _, messages = editor.approve(ref)
    assert messages and messages[0][0] == "success", messages

    reader = Client(board.base_url)
    assert reader.get(f"/track/{token}").status == 200
    assert reader.get(f"/track/{token}/withdraw").status == 200
    # A browser following a link from the tracking page sends it as the referrer (same-origin).
    reader.get("/", headers={"Referer": tracking_url})
    assert reader.get("/lost", params={"number": id_number}).status == 200
    found = reader.get("/api/v1/lost-documents", params={"number": id_number}).json()
    assert [i["ref"] for i in found["items"]] == [ref]
    board.stop()

    secrets = {
        "password": [EDITOR_PASSWORD, "typo-" + EDITOR_PASSWORD],
        "session cookie": [v for v in editor.cookie_values + reader.cookie_values if len(v) > 20],
        "tracking token": [token],
        "full ID number": [id_number],
    }
    logs = {path.name: path.read_text(errors="replace")
            for path in (board.access_log, board.error_log, board.output_log) if path.exists()}
    leaks = sorted({
        f"{what} in {name}"
        for what, values in secrets.items() for value in values
        for name, text in logs.items() if value in text
    })
    print(f"\nlogs: {sum(len(t.splitlines()) for t in logs.values())} lines in {sorted(logs)}; "
          f"{len(leaks)} leaks: {leaks}")
    assert not leaks
