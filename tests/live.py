"""The board as it runs in production, for tests that attack it from outside.

:class:`LiveBoard` builds a database and an editor with the board's own commands and serves the
app with gunicorn and ``gunicorn.conf.py`` on a free loopback port, optionally beside the
``index-outbox --watch`` indexer. The database is the suite's: a SQLite file in the board's
folder, or with ``BOARD_TEST_DATABASE=postgresql`` a new database in the tests' cluster. :class:`Client` talks to it over plain HTTP with the standard
library, keeping its own cookies, as a browser or a script would.
"""
import html.parser
import http.client
import json
import os
import random
import re
import secrets
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from datetime import timedelta
from pathlib import Path

import conftest
import sqlalchemy as sa

from notices import expiry
from notices import kinds
from notices import seeds

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

EDITOR = "live-editor"
EDITOR_PASSWORD = "live-editor-password-" + secrets.token_hex(4)

# Load runs submit and log in far more often than a person would; the limits have tests of
# their own.
LOAD_LIMITS = {
    "FLASK_SUBMIT_RATE_LIMIT": "1000000 per hour",
    "FLASK_PREVIEW_RATE_LIMIT": "1000000 per hour",
    "FLASK_LOGIN_RATE_LIMIT": "1000000 per hour",
    "FLASK_LOOKUP_RATE_LIMIT": "1000000 per hour",
    "FLASK_LOOKUP_DAILY_MISSES": "1000000",
}

# What a client sees when the process serving its request dies or is not there: a reset, a
# refused or timed-out connection, a connection closed before the answer.
CONNECTION_ERRORS = (OSError, http.client.HTTPException)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid):
    """Return True if ``pid`` is a running process (not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


class _Started:
    """A context manager of what ``start`` starts: everything is stopped on exit, and a
    start that fails half-way stops what it had started."""

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()


class LiveBoard(_Started):
    """A fresh board served by gunicorn in ``tmp``, and optionally its indexer.

    Use as a context manager; everything it started is stopped on exit. ``env`` adds to or
    overrides the environment of every process (limits, ...). Without a
    FLASK_RATELIMIT_STORAGE_URI there, the board gets a private redis-server of its own, the
    shared store the workers count rate limits in.

    The database is a new one of the suite's kind (see :meth:`new_database`) unless
    ``database_url`` names one. Without ``init``, the board serves that database as it is,
    built by another board: a second server of the same board.
    """

    def __init__(self, tmp, *, env=None, workers=4, indexer=False, indexer_interval=0.5,
                 access_format=None, database_url=None, init=True):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or self.new_database("board")
        self.init = init
        self.index_dir = self.tmp / "index"
        self.access_log = self.tmp / "access.log"
        self.error_log = self.tmp / "error.log"
        self.output_log = self.tmp / "gunicorn.out"
        self.indexer_log = self.tmp / "indexer.out"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.want_indexer = indexer
        self.indexer_interval = indexer_interval
        # gunicorn's access-log format; None keeps its default.
        self.access_format = access_format
        self.env = {
            **os.environ,
            "FLASK_SQLALCHEMY_DATABASE_URI": self.database_url,
            "FLASK_SEARCH_INDEX_DIR": str(self.index_dir),
            "FLASK_SECRET_KEY": "live-" + secrets.token_hex(16),
            "BIND": f"127.0.0.1:{self.port}",
            "FLASK_PUBLIC_URL": self.base_url,
            "WEB_CONCURRENCY": str(workers),
            **(env or {}),
        }
        self.redis = None
        self.server = None
        self.indexer = None
        self.known_workers = set()

    # --- lifecycle ----------------------------------------------------------------------

    def start(self):
        if "FLASK_RATELIMIT_STORAGE_URI" not in self.env:
            self.env["FLASK_RATELIMIT_STORAGE_URI"] = self.start_redis()
        if self.init:
            self.flask("init-db")
            self.flask("create-user", EDITOR, "--role", "editor", "--password-stdin",
                       input=EDITOR_PASSWORD + "\n")
        with open(self.output_log, "ab") as out:
            self.server = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py",
                 "--error-logfile", str(self.error_log),
                 "--access-logfile", str(self.access_log),
                 *(["--access-logformat", self.access_format] if self.access_format else []),
                 # The default control socket in $HOME would be shared by every board.
                 "--no-control-socket",
                 "app:app"],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            )
        self.wait_until_up()
        if self.want_indexer:
            self.start_indexer()

    def start_redis(self, timeout=10):
        """Start a private redis-server on a Unix socket in tmp; return its URI."""
        sock = self.tmp / "redis.sock"
        self.redis = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", str(sock), "--save", "",
             "--appendonly", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not sock.exists():
            if time.monotonic() > deadline or self.redis.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        return f"redis+unix://{sock}"

    def wait_until_up(self, timeout=60):
        """Wait until /healthz answers and every worker has started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.server.returncode}:\n{self.logs()}")
            try:
                if Client(self.base_url, timeout=5).get("/healthz").status == 200 \
                        and len(self.worker_pids()) >= self.workers:
                    return
            except CONNECTION_ERRORS:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.logs()}")

    def stop(self):
        """Stop the indexer and gunicorn, and make sure no worker outlives them."""
        self.stop_indexer()
        if self.server is not None and self.server.poll() is None:
            self.known_workers.update(self.worker_pids())
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        for pid in self.known_workers:
            if alive(pid) and self._is_ours(pid):
                os.kill(pid, signal.SIGKILL)
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait()

    def _is_ours(self, pid):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                return f"BIND=127.0.0.1:{self.port}".encode() in f.read().split(b"\0")
        except OSError:
            return False

    # --- commands -----------------------------------------------------------------------

    def flask(self, *args, input=None, check=True, timeout=120, env=None):
        """Run ``flask --app app ARGS`` against this board (``env`` overriding some of its
        settings); return the CompletedProcess."""
        done = subprocess.run(
            [str(BIN / "flask"), "--app", "app", *args],
            cwd=ROOT, env={**self.env, **(env or {})}, input=input, capture_output=True,
            text=True, timeout=timeout,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} exited {done.returncode}:\n"
                               f"{done.stdout}\n{done.stderr}")
        return done

    def check_index(self):
        return self.flask("check-index", check=False)

    def wait_for_index(self, timeout=15):
        """Poll check-index until it passes; return (passed, seconds waited, last output)."""
        started = time.monotonic()
        while True:
            done = self.check_index()
            waited = time.monotonic() - started
            if done.returncode == 0 or waited > timeout:
                return done.returncode == 0, waited, done.stdout + done.stderr
            time.sleep(0.5)

    # --- processes ----------------------------------------------------------------------

    @property
    def master_pid(self):
        return self.server.pid

    def worker_pids(self):
        """Return the pids of the master's live children: its workers."""
        pids = set()
        for task in Path(f"/proc/{self.master_pid}/task").glob("*"):
            try:
                pids.update(int(p) for p in (task / "children").read_text().split())
            except OSError:
                continue
        workers = sorted(p for p in pids if alive(p))
        self.known_workers.update(workers)
        return workers

    def kill_worker(self, pid=None):
        """Kill -9 a worker (a random one by default); return its pid, or None if none ran."""
        workers = self.worker_pids()
        if pid is None:
            if not workers:
                return None
            pid = random.choice(workers)
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_workers(self):
        """Kill -9 every worker at once (the master starts new ones); return how many."""
        workers = self.worker_pids()
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        return len(workers)

    def crash(self):
        """Kill -9 the master and every worker: the server is gone, as if its machine died."""
        workers = self.worker_pids()
        self.server.kill()
        self.server.wait()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    def start_indexer(self):
        with open(self.indexer_log, "ab") as out:
            self.indexer = subprocess.Popen(
                [str(BIN / "flask"), "--app", "app", "index-outbox", "--watch",
                 "--interval", str(self.indexer_interval)],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            )

    def kill_indexer(self):
        if self.indexer is not None and self.indexer.poll() is None:
            self.indexer.kill()
        if self.indexer is not None:
            self.indexer.wait()

    def restart_indexer(self):
        """Kill -9 the indexer and start a new one."""
        self.kill_indexer()
        self.start_indexer()

    def stop_indexer(self):
        if self.indexer is None:
            return
        if self.indexer.poll() is None:
            self.indexer.terminate()
            try:
                self.indexer.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.indexer.kill()
                self.indexer.wait()
        self.indexer = None

    # --- what it left behind ------------------------------------------------------------

    def new_database(self, name):
        """Return the URL of a new, empty database called ``name`` beside the board's: a SQLite
        file in its folder, or a database in the tests' PostgreSQL cluster."""
        return conftest.database_url(self.tmp / f"{name}.db")

    def query(self, sql, database=None, **params):
        """Run one SQL statement on the board's database (or the one at the URL ``database``);
        return every row as a tuple.

        Parameters are named (``:ref``), as SQLAlchemy's text() takes them on either
        database; a list or tuple is expanded, for ``IN :refs``.
        """
        statement = sa.text(sql).bindparams(*(
            sa.bindparam(name, expanding=True)
            for name, value in params.items() if isinstance(value, list | tuple)
        ))
        # Reading, as the board calls it: a look at the data never waits for its write lock.
        engine = sa.create_engine(database or self.database_url, poolclass=sa.pool.NullPool,
                                  execution_options={"board_reading": True})
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(statement, params)]
        finally:
            engine.dispose()

    def integrity(self):
        """Check the database's files; return the problems found (none: an empty list).

        SQLite checks itself (PRAGMA integrity_check). PostgreSQL has no such statement; its
        amcheck module (in Debian's postgresql) checks every B-tree index against the rules of
        its structure and against the table (heapallindexed: each row is in the index), and
        every table's pages and tuples (verify_heapam).
        """
        if self.database_url.startswith("sqlite"):
            return [row[0] for row in self.query("PRAGMA integrity_check") if row != ("ok",)]
        engine = sa.create_engine(self.database_url, poolclass=sa.pool.NullPool,
                                  isolation_level="AUTOCOMMIT",
                                  execution_options={"board_reading": True})
        problems = []
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
                indexes = connection.exec_driver_sql("""
                    SELECT c.oid, c.relname FROM pg_index i
                    JOIN pg_class c ON c.oid = i.indexrelid
                    JOIN pg_am a ON a.oid = c.relam
                    JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE a.amname = 'btree' AND n.nspname = 'public'""").all()
                for oid, name in indexes:
                    try:
                        connection.exec_driver_sql("SELECT bt_index_check(%s, true)", (oid,))
                    except sa.exc.DBAPIError as error:
                        problems.append(f"index {name}: {error.orig}")
                tables = connection.exec_driver_sql("""
                    SELECT c.oid, c.relname FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind = 'r' AND n.nspname = 'public'""").all()
                for oid, name in tables:
                    for row in connection.exec_driver_sql(
                        "SELECT blkno, offnum, msg FROM verify_heapam(%s)", (oid,)
                    ):
                        problems.append(f"table {name}: {row}")
        finally:
            engine.dispose()
        return problems

    def logs(self):
        """Return the access log, the error log and gunicorn's own output, as one text."""
        parts = []
        for path in (self.access_log, self.error_log, self.output_log):
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def error_log_tail(self, lines=80):
        text = self.error_log.read_text(errors="replace") if self.error_log.exists() else ""
        output = self.output_log.read_text(errors="replace") if self.output_log.exists() else ""
        return "\n".join((text + output).splitlines()[-lines:])


# The balancer in front of several servers of one board: nginx from Debian, round-robin. An
# idempotent request whose server fails before answering (refused, reset, closed early) is passed
# to the next server; a POST is passed on only if it never reached the first (nginx's default),
# since the first may have acted on it. A server that fails is left out for fail_timeout.
NGINX_CONFIG = """\
{user}worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    # Larger than the board's own limit, so that the board answers for it.
    client_max_body_size 1m;
    upstream board {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://board;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries {tries};
        }}
    }}
}}
"""


class Balancer(_Started):
    """nginx on a free loopback port, balancing round-robin over the servers at ``ports``.

    Use as a context manager. Its configuration, pid file, logs and temporary files are all in
    ``tmp``: it touches nothing of the system's nginx.
    """

    def __init__(self, tmp, ports, port=None):
        self.tmp = Path(tmp)
        self.ports = list(ports)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config = self.tmp / "nginx.conf"
        self.access_log = self.tmp / "nginx-access.log"
        self.error_log = self.tmp / "nginx-error.log"
        self.process = None

    def start(self, timeout=10):
        self.tmp.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(
            f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in self.ports
        )
        self.config.write_text(NGINX_CONFIG.format(
            # Started by root, nginx's workers would run as nobody, who cannot reach tmp.
            user="user root;\n" if os.geteuid() == 0 else "",
            tmp=self.tmp, port=self.port, servers=servers, tries=len(self.ports),
        ))
        self.process = subprocess.Popen(
            ["nginx", "-c", str(self.config), "-p", str(self.tmp), "-e", str(self.error_log),
             "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}: "
                                   f"{self.process.stderr.read().decode(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not listen within {timeout} s") from None
                time.sleep(0.05)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            # SIGTERM is nginx's fast shutdown; its workers go with the master.
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.process.stderr.close()

    def passed_on(self):
        """Return the error log's lines about a request passed to another server."""
        if not self.error_log.exists():
            return []
        return [line for line in self.error_log.read_text(errors="replace").splitlines()
                if "while reading response header from upstream" in line
                or "while connecting to upstream" in line]


# --- HTTP ------------------------------------------------------------------------------

class Response:
    def __init__(self, method, path, status, headers, body):
        self.method, self.path, self.status = method, path, status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)

    @property
    def location(self):
        return self.headers.get("Location")

    @property
    def is_html(self):
        return "text/html" in (self.headers.get("Content-Type") or "")

    def __repr__(self):
        return f"<{self.method} {self.path[:120]!r} {self.status}>"


def encode_value(value):
    """Return ``value`` as bytes for a form or a query: text as UTF-8, lone surrogates kept."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", errors="surrogatepass")


def urlencode(pairs):
    """Encode (name, value) pairs, where a value may be raw bytes (invalid UTF-8 included)."""
    if isinstance(pairs, dict):
        pairs = list(pairs.items())
    return "&".join(
        urllib.parse.quote_plus(encode_value(k)) + "=" + urllib.parse.quote_plus(encode_value(v))
        for k, v in pairs
    )


class Client:
    """A plain-HTTP client with its own cookie jar; one connection per request.

    Every Set-Cookie is kept and sent back, Secure or not: tests talk plain HTTP on loopback
    to a board that marks its cookies Secure.
    """

    def __init__(self, base_url, timeout=60):
        parts = urllib.parse.urlsplit(base_url)
        self.base_url = base_url
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout
        self.cookies = {}
        # Every cookie value the board ever set, for tests that look for them elsewhere.
        self.cookie_values = []

    def request(self, method, path, *, params=None, form=None, json_body=None, body=None,
                headers=None):
        """Send one request; ``form`` and ``params`` are pairs or a dict, values str or bytes."""
        headers = dict(headers or {})
        if params:
            path += ("&" if "?" in path else "?") + urlencode(params)
        if form is not None:
            body = urlencode(form).encode("ascii")
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif json_body is not None:
            body = json.dumps(json_body).encode("ascii")
            headers.setdefault("Content-Type", "application/json")
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                # A server refusing an oversized request line answers before reading the rest.
                pass
            raw = conn.getresponse()
            response = Response(method, path, raw.status, raw.headers, raw.read())
        finally:
            conn.close()
        self._keep_cookies(response.headers)
        return response

    def _keep_cookies(self, headers):
        for header in headers.get_all("Set-Cookie") or []:
            pair, _, attributes = header.partition(";")
            name, _, value = pair.strip().partition("=")
            attributes = attributes.lower()
            expired = "max-age=0" in attributes.replace(" ", "") or "expires=thu, 01 jan 1970" in attributes
            if expired:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
                self.cookie_values.append(value)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def follow(self, response):
        """GET where a redirect points (a path on this board)."""
        parts = urllib.parse.urlsplit(response.location)
        return self.get(parts.path + (f"?{parts.query}" if parts.query else ""))

    def send_large(self, path, body, content_type, chunk=64 * 1024):
        """POST a large body a chunk at a time, stopping early if the server has answered.

        A server that refuses a body by its Content-Length answers and closes before reading
        it; a client that kept writing would get a reset instead of the answer.
        """
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.putrequest("POST", path)
            conn.putheader("Content-Type", content_type)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            view = memoryview(body)
            for start in range(0, len(body), chunk):
                readable, _, _ = select.select([conn.sock], [], [], 0)
                if readable:
                    break
                try:
                    conn.sock.sendall(view[start:start + chunk])
                except (BrokenPipeError, ConnectionResetError):
                    break
            raw = conn.getresponse()
            return Response("POST", path, raw.status, raw.headers, raw.read())
        finally:
            conn.close()

    # --- the board's flows --------------------------------------------------------------

    def csrf_token(self, path):
        """GET a page with a form and return its csrf_token."""
        page = self.get(path)
        return hidden_inputs(page.text).get("csrf_token")

    def login(self, username=EDITOR, password=EDITOR_PASSWORD):
        """Log in through /editor/login; return True if the board let us in."""
        token = self.csrf_token("/editor/login")
        response = self.post("/editor/login", form={
            "csrf_token": token, "username": username, "password": password,
        })
        return response.status == 302

    def submit_api(self, data, key=None):
        """POST a submission to the JSON API; 201 means acknowledged, with its ref."""
        headers = {"Idempotency-Key": key or secrets.token_urlsafe(16)}
        return self.post("/api/v1/submissions", json_body=data, headers=headers)

    def submit_form(self, code, pairs):
        """Fill in /submit/<code>, preview and confirm; return (preview, confirm or None)."""
        token = self.csrf_token(f"/submit/{code}")
        preview = self.post(f"/submit/{code}", form=[("csrf_token", token), *pairs,
                                                      ("action", "preview")])
        if preview.status != 200 or "submission_key" not in preview.text:
            return preview, None
        hidden = hidden_pairs(preview.text)
        return preview, self.post(f"/submit/{code}/confirm", form=hidden)

    def approve(self, ref):
        """Approve a submission through its confirm page; return the answer to the confirming
        POST and the flash messages of the page it leads to.

        The confirm page (GET /editor/notices/<ref>/approve) holds the form token and the
        ``confirm`` field; a notice that can no longer be approved has no confirm page, and
        is answered with a redirect to its review page, where a flash says why. A published
        one is answered with a redirect to the next submission in the queue, or the queue,
        where a flash says it was published.
        """
        confirm = self.get(f"/editor/notices/{ref}/approve")
        if confirm.status == 302:
            return confirm, flashes(self.follow(confirm).text)
        if confirm.status != 200:
            return confirm, []
        response = self.post(f"/editor/notices/{ref}/approve", form=hidden_inputs(confirm.text))
        if response.status != 302:
            return response, []
        page = self.follow(response)
        return response, flashes(page.text)

    def queue_refs(self, code=None):
        """Return the refs listed on the first page of the review queue."""
        page = self.get("/editor/", params={"type": code} if code else None)
        return re.findall(r'href="/editor/notices/([A-Z0-9-]+)[?"]', page.text)

    def search(self, q, **filters):
        return self.get("/search", params={"q": q, **filters})

    def api_search(self, q, **filters):
        return self.get("/api/v1/notices", params={"q": q, **filters})


class Tally:
    """Counts a run's requests by status and keeps every failure: a 5xx or a lost connection."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.server_errors = []
        self.connection_errors = []
        # What the test makes of the answers: published, refused, retried ...
        self.outcomes = Counter()

    @property
    def requests(self):
        return sum(self.statuses.values())

    def record(self, response):
        with self.lock:
            self.statuses[response.status] += 1
            if response.status >= 500:
                self.server_errors.append(f"{response.method} {response.path[:200]} -> "
                                          f"{response.status}: {response.text[:200]!r}")

    def note(self, outcome):
        with self.lock:
            self.outcomes[outcome] += 1

    def lost(self, method, path, error):
        with self.lock:
            self.statuses["connection error"] += 1
            self.connection_errors.append(f"{method} {path[:200]}: {error!r}")


class CountingClient(Client):
    """A client whose every request, and every lost connection, is counted in a Tally."""

    def __init__(self, base_url, tally, **kwargs):
        super().__init__(base_url, **kwargs)
        self.tally = tally

    def request(self, method, path, **kwargs):
        try:
            response = super().request(method, path, **kwargs)
        except CONNECTION_ERRORS as error:
            self.tally.lost(method, path, error)
            raise
        self.tally.record(response)
        return response


# --- HTML ------------------------------------------------------------------------------

class _FormParser(html.parser.HTMLParser):
    """Collect every form control: (tag, attributes), and the options of each select."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.controls = []
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "textarea", "button"):
            self.controls.append((tag, attrs, []))
        elif tag == "select":
            self._select = (tag, attrs, [])
            self.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            self._select[2].append(attrs.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def controls(page):
    parser = _FormParser()
    parser.feed(page)
    parser.close()
    return parser.controls


def hidden_pairs(page):
    """Return (name, value) of every hidden input, in page order."""
    return [
        (attrs["name"], attrs.get("value") or "")
        for tag, attrs, _ in controls(page)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name")
    ]


def hidden_inputs(page):
    return dict(hidden_pairs(page))


def field_names(page):
    """Return the names of the fields a person fills in on a page's forms, in page order."""
    names = []
    for tag, attrs, _ in controls(page):
        name = attrs.get("name")
        if not name or name in names or tag == "button" or attrs.get("type") == "hidden":
            continue
        names.append(name)
    return names


def flashes(page):
    """Return the flash messages on a page as (category, text)."""
    found = re.findall(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', page, re.S)
    return [(category, html.unescape(text).strip()) for category, text in found]


# --- valid submissions from the seeds -------------------------------------------------

def board_today():
    return expiry.board_today(expiry.utcnow())


def seed_submission(code, index=0, **changes):
    """Return a valid API submission of type ``code`` built from the newspaper's seeds.

    A call opens tomorrow (Beijing time), so a run across midnight is never refused at
    approval for a start that has passed.
    """
    matching = [s for s in seeds.SEEDS if s.kind == code]
    data = {"type": code, **json.loads(json.dumps(matching[index % len(matching)].data))}
    # The consent to publish every submission needs (the form's box, as pairs: "y").
    data["consent_publication"] = True
    if kinds.get(code).submitter_sets_window:
        data["window_start"] = (board_today() + timedelta(days=1)).isoformat()
    data.update(changes)
    return data


def varied_submission(n):
    """Return the n-th of a stream of valid submissions of every type, each a little different."""
    codes = list(kinds.KINDS)
    code = codes[n % len(codes)]
    data = seed_submission(code, index=n // len(codes))
    tag = f" {n}"
    if code == "wage_clearance":
        data["project_name"] += tag
    elif code == "loss_declaration":
        data["declarant"] += tag
    else:
        data["contact_unit"] += tag
    return data
