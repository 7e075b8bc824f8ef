import contextlib
import copy
import hashlib
import os
import shutil
import signal
import threading
import weakref
from datetime import date
from datetime import datetime
from datetime import time
from time import monotonic

import flask_migrate
import postgres
import pytest
import smtp
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from notices import create_app
from notices import expiry
from notices import kinds
from notices import seeds
from notices import services
from notices.accounts import create_user
from notices.extensions import db

# The database every test runs on: SQLite, or PostgreSQL with BOARD_TEST_DATABASE=postgresql
# (a throwaway cluster of the tests' own, see tests/postgres.py). `make test` runs both.
DATABASE = os.environ.get("BOARD_TEST_DATABASE", "sqlite")
if DATABASE not in ("sqlite", "postgresql"):
    raise RuntimeError(f"BOARD_TEST_DATABASE must be sqlite or postgresql, not {DATABASE!r}")
ON_POSTGRESQL = DATABASE == "postgresql"
_cluster = None

EDITOR_PASSWORD = "correct-horse-battery"
PUBLIC_URL = "https://notices.example.cn"


def database_url(path):
    """Return the URL of the test database ``path`` names: the SQLite file itself, or on
    PostgreSQL a database named after the path (created empty the first time)."""
    if not ON_POSTGRESQL:
        return f"sqlite:///{path}"
    name = _database_name(path)
    if _cluster is None:
        # A process the test started (multiprocessing): the test made the database already.
        return postgres.url(os.environ[postgres.PORT_VARIABLE], name)
    with _cluster.admin.connect() as connection:
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).scalar()
    return _cluster.url(name) if exists else _cluster.create(name)


def copy_database(template, path):
    """Make ``path`` a copy of the migrated database ``template`` (see ``migrated_db``)."""
    if ON_POSTGRESQL:
        _cluster.create(_database_name(path), template=_database_name(template))
    else:
        shutil.copy(template, path)
    return path


def _database_name(path):
    return "t_" + hashlib.sha1(str(path).encode()).hexdigest()[:20]


@pytest.fixture(scope="session", autouse=True)
def database_server():
    """On PostgreSQL, the cluster every test's database lives in, for the whole run."""
    global _cluster
    if not ON_POSTGRESQL:
        yield None
        return
    _cluster = postgres.Cluster().start()
    try:
        yield _cluster
    finally:
        _cluster.admin.dispose()
        _cluster.stop()
        _cluster = None


# Every app a test creates, so that its connections are closed when the test ends. Left to the
# garbage collector, PostgreSQL's would be closed in whichever later test it happens to run,
# each with a ResourceWarning that fails that test.
_created = []
_init_app = db.init_app


def _recording_init_app(app):
    _created.append(weakref.ref(app))
    _init_app(app)


db.init_app = _recording_init_app


@pytest.fixture(autouse=True)
def _close_connections():
    yield
    while _created:
        app = _created.pop()()
        if app is not None and "sqlalchemy" in app.extensions:
            with app.app_context():
                for engine in db.engines.values():
                    engine.dispose()


def config(tmp_path, db_path, search_engine=None):
    return {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": database_url(db_path),
        "SEARCH_INDEX_DIR": str(tmp_path / "index"),
        "WTF_CSRF_ENABLED": False,
        # Not the test client's host (localhost), so absolute URLs show where they come from.
        "PUBLIC_URL": PUBLIC_URL,
        # Tests submit far more than a person would; the limits have tests of their own.
        "RATELIMIT_ENABLED": False,
        # Unset, the database's: Whoosh on SQLite, the PostgreSQL engine on PostgreSQL.
        "SEARCH_ENGINE": search_engine,
    }


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory):
    """A database built once by the real migrations; each test gets a copy of it."""
    tmp = tmp_path_factory.mktemp("template")
    path = tmp / "template.db"
    app = create_app(config(tmp, path))
    with app.app_context():
        flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()
    return path


def search_engine(request):
    """Return the search engine a test asks for with ``@pytest.mark.search_engine("whoosh")``
    (the Whoosh index's own tests, run on either database), or None for the database's."""
    marker = request.node.get_closest_marker("search_engine")
    return marker.args[0] if marker else None


@pytest.fixture
def app(request, tmp_path, migrated_db):
    db_path = copy_database(migrated_db, tmp_path / "t.db")
    app = create_app(config(tmp_path, db_path, search_engine(request)))
    yield app
    with app.app_context():
        db.engine.dispose()
    if ON_POSTGRESQL:
        _cluster.drop(_database_name(db_path))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def editor(app):
    with app.app_context():
        user = create_user("editor", EDITOR_PASSWORD, role="editor")
        return db.session.merge(user)


def at(day, hour=9, minute=0):
    """Return the aware instant at ``hour:minute`` on ``day`` in the board's time zone."""
    return datetime.combine(day, time(hour, minute), expiry.BOARD_TZ)


@contextlib.contextmanager
def within(seconds, what):
    """Fail the test as soon as the block has run for ``seconds``, naming ``what`` ran over.

    The alarm interrupts a regular expression too (the engine checks for signals), so a
    pattern that would backtrack for minutes fails its test in seconds.
    """

    def expired(signum, frame):
        pytest.fail(f"{what} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    started = monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # In case the alarm came during code that does not look at signals.
    assert monotonic() - started < seconds, f"{what} took more than {seconds} s"


def at_once(count, work):
    """Run ``work()`` in ``count`` threads released at the same moment; return what each
    returned. An exception in any of them fails the caller's test."""
    start, results, errors = threading.Barrier(count), [], []

    def run():
        try:
            start.wait()
            results.append(work())
        except Exception as error:  # reported below, with the thread's failure
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def seed_data(code, index=0):
    """Return the form data of a seed notice of type ``code`` (the index-th of them)."""
    matching = [s for s in seeds.SEEDS if s.kind == code]
    # A deep copy: a test changing a loss item must not change the seed for the next test.
    data = copy.deepcopy(matching[index].data)
    # The consent to publish every submission needs, as the API takes it (JSON true).
    data["consent_publication"] = True
    return data


@pytest.fixture
def make_notice(app, editor):
    """Submit (and by default approve) a notice built from the seeds, with overrides.

    ``day`` is the board date of submission and approval; calls open on ``window_start``
    (default: that day).
    """

    def make(code="supplier_call", *, day=date(2024, 3, 8), status="published", index=0, **overrides):
        kind = kinds.get(code)
        data = seed_data(code, index)
        if kind.submitter_sets_window:
            data["window_start"] = day.isoformat()
        data.update(overrides)
        with app.app_context():
            user = db.session.merge(editor)
            notice, token = services.submit(kind, services.flatten(data), now=at(day, 8))
            if status in ("published", "revoked"):
                services.approve(notice, user, now=at(day, 9))
            if status == "revoked":
                services.revoke(notice, user, "提交人申请撤销", now=at(day, 10))
            if status == "rejected":
                services.reject(notice, user, "材料不全", now=at(day, 10))
            if status == "withdrawn":
                services.withdraw(notice, now=at(day, 10))
            db.session.refresh(notice)
            db.session.expunge(notice)
            notice.token = token
            return notice

    return make


# --- Browser: the app served over HTTP to Debian's Chromium, driven by Playwright ------------
# Shared by test_browser.py (public pages) and test_browser_workflow.py (submit and review).

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# The editor who approved the seed notices the `server` fixture loads.
SEED_EDITOR = "shot-editor"


@pytest.fixture
def server(app):
    """Serve the app, loaded with the seed notices as `flask seed-demo` does, on a free port."""
    with app.app_context():
        user = create_user(SEED_EDITOR, "a-long-password-123", role="editor")
        seeds.load(user, now=expiry.utcnow())
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    # The board served here knows its address, as a production board is told FLASK_PUBLIC_URL.
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{httpd.server_port}"
    yield app.config["PUBLIC_URL"]
    httpd.shutdown()
    thread.join()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, shared by every browser test."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page at the desktop viewport, in a context of its own."""
    context = browser.new_context(**DESKTOP)
    # A missing element fails in seconds, not after Playwright's default of 30.
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


# --- Mail: a real SMTP server on loopback ---------------------------------------------------


@pytest.fixture
def smtp_server(app):
    """An SMTP server (aiosmtpd) on a free loopback port, and the app set to send through it."""
    with smtp.Server() as server:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)
        yield server
