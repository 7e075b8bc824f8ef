"""Headers on every response, body limits, server-side logout and logs without secrets."""
import json
import logging
import re
from datetime import timedelta

import pytest
import time_machine
from conftest import EDITOR_PASSWORD
from conftest import ON_POSTGRESQL
from conftest import copy_database
from conftest import seed_data
from conftest import within
from werkzeug.datastructures import MultiDict

from notices import expiry
from notices import kinds
from notices import services
from notices.extensions import db
from notices.logs import redact
from notices.models import LoginSession
from notices.models import Notice


def login(client, username="editor", password=EDITOR_PASSWORD):
    return client.post("/editor/login", data={"username": username, "password": password})


@pytest.fixture
def failing_app(app):
    """The app with one route that fails, to see what a 500 looks like."""

    @app.get("/track/<token>/boom")
    def boom(token):
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def responses(app):
    """One response of every kind the board gives: pages, errors, the API and static files."""
    client = app.test_client()
    yield "page", client.get("/")
    static = client.get("/static/board.css")
    static.close()
    yield "static", static
    yield "api", client.get("/api/v1/notices")
    yield "404", client.get("/no/such/page")
    yield "api 404", client.get("/api/v1/notices/YS-0-NONE")
    yield "405", client.post("/")
    yield "413", client.post("/submit/loss_declaration", data={"declarant": "x" * 300_000})
    yield "500", client.get("/track/abc/boom")
    app.config["WTF_CSRF_ENABLED"] = True
    yield "400 csrf", client.post("/submit/loss_declaration", data={})


def test_every_response_carries_the_security_headers(failing_app):
    seen = set()
    for name, response in responses(failing_app):
        seen.add(response.status_code)
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, name
        assert "frame-ancestors 'none'" in csp, name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["Referrer-Policy"] == "same-origin", name
    assert {200, 400, 404, 405, 413, 500} <= seen


def test_errors_under_editor_and_track_are_never_stored(failing_app):
    """A failure, an oversize body or a refused form there is no more cacheable than a page."""
    client = failing_app.test_client()
    answers = {
        "500": client.get("/track/abc/boom"),
        "413": client.post("/editor/login", data={"username": "x" * 300_000}),
    }
    failing_app.config["WTF_CSRF_ENABLED"] = True
    answers["400 csrf"] = client.post("/editor/login", data={"username": "x"})
    for name, response in answers.items():
        assert response.status_code == int(name[:3]), name
        assert response.headers.get("Cache-Control") == "no-store", name


def test_a_500_is_a_page_that_gives_nothing_away(failing_app):
    response = failing_app.test_client().get("/track/abc/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "服务器出错了" in body
    assert "RuntimeError" not in body and "Traceback" not in body


def test_session_cookie_is_secure_httponly_and_same_site(client, editor):
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in cookie


def test_oversize_bodies_are_refused_with_413_and_nothing_is_stored(app, client):
    big = "扎西" * 200_000
    page = client.post("/submit/loss_declaration", data={"declarant": big})
    assert page.status_code == 413
    assert "提交的内容过大" in page.get_data(as_text=True)
    api = client.post("/api/v1/submissions", json={**seed_data("loss_declaration"), "declarant": big})
    assert api.status_code == 413
    assert api.is_json and api.json["error"] == "提交的内容过大"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Notice.id))) == 0


def test_a_nul_character_anywhere_is_refused_and_nothing_is_stored(app, client, editor):
    """PostgreSQL fails any statement given a NUL, so one would have been a 500 there (and a
    stored \\u0000 a 500 on every review page after it); both databases refuse it first."""
    item = seed_data("loss_declaration")["items"][0]
    nested = {**seed_data("loss_declaration"), "items": [{**item, "owner_name": "扎\0西"}]}
    refused = [
        client.get("/lost", query_string={"number": "5401\0"}),
        client.get("/search", query_string={"q": "工资\0"}),
        client.get("/api/v1/lost-documents", query_string={"number": "\0"}),
        client.post("/submit/loss_declaration", data={"declarant": "扎西\0"}),
        client.post("/editor/login", data={"username": "editor\0", "password": "x"}),
        client.post("/api/v1/submissions", json={**seed_data("loss_declaration"), "declarant": "\0"}),
        client.post("/api/v1/submissions", json=nested),
        client.post("/api/v1/submissions", json={**seed_data("loss_declaration"), "x\0": 1}),
    ]
    for response in refused:
        assert response.status_code == 400, response.request.url
        shown = response.json["error"] if response.is_json else response.get_data(as_text=True)
        assert "空字符" in shown
    assert client.get("/notices/YS%00").status_code == 404
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Notice.id))) == 0


def test_a_submission_at_the_fields_maximum_is_not_refused_for_its_size(app, client):
    data = seed_data("loss_declaration")
    items = [
        {"owner_name": "扎" * 100, "document_type": "id_card", "document_number": "540102199001011233"}
        for _ in range(20)
    ]
    data.update(declarant="央" * 100, items=items)
    response = client.post("/api/v1/submissions", json=data)
    assert response.status_code != 413


# What made a pattern backtrack (each as head, repeated unit, tail), filled to a little under
# the 256 KB a request may carry: the most any one request can make the board read.
WORST_CASES = {
    "spaces": ("", " ", "x"),
    "tabs": ("", "\t", "x"),
    "semicolons": ("", ";", "x"),
    "brackets": ("", "(", ""),
    "url": ("http://", "a", " x"),
    "url and brackets": ("http://", ")", " x"),
    "letters": ("", "a", ""),
    "scheme-like": ("", "a-", ""),
}
ROOM = 240 * 1024


def worst_value(case, size):
    """Return the worst case filling ``ROOM`` bytes when each character costs ``size(text)``."""
    head, unit, tail = WORST_CASES[case]
    return head + unit * ((ROOM - size(head + tail)) // size(unit)) + tail


def as_posted(text):
    return len(text.encode())


def as_json(text):
    return len(json.dumps(text)) - 2


def every_field(app):
    """Yield (type, field name) for every field a person fills in, loss items' included."""
    with app.test_request_context():
        for code, kind in kinds.KINDS.items():
            form = kind.form(formdata=None, meta={"csrf": False})
            for field in form:
                if field.type == "ConsentField":
                    continue  # the consent box is ticked, never typed into
                entries = getattr(field, "entries", None)
                names = [sub.name for sub in entries[0].form] if entries else [field.name]
                for name in names:
                    yield code, name


def seed_body(code):
    data = seed_data(code)
    if kinds.get(code).submitter_sets_window:
        data["window_start"] = expiry.board_today(expiry.utcnow()).isoformat()
    return data


def with_value(data, name, value):
    """Return a submission with field ``name`` (items-0-owner_name too) set to ``value``."""
    if name.startswith("items-"):
        _, index, key = name.split("-", 2)
        data["items"][int(index)][key] = value
    else:
        data[name] = value
    return data


@pytest.mark.parametrize("case", WORST_CASES)
def test_the_worst_input_for_every_field_is_answered_quickly(app, client, case):
    """Each pattern's worst case in every field of every type, through the form's preview
    and confirmation and the API: a 4xx within 2 s (a bound only super-linear work breaks)."""
    answers = 0
    for code, name in every_field(app):
        form = with_value(seed_body(code), name, worst_value(case, as_posted))
        fields = MultiDict(services.flatten(form))
        for path, extra in ((f"/submit/{code}", [("action", "preview")]), (f"/submit/{code}/confirm", [])):
            with within(2, f"{case} in {code} {name} to {path}"):
                response = client.post(path, data=MultiDict([*fields.items(multi=True), *extra]),
                                       content_type="multipart/form-data")
            assert 400 <= response.status_code < 500 and response.status_code != 413, (path, name)
            assert response.request.content_length > 200_000
            answers += 1
        body = {"type": code, **with_value(seed_body(code), name, worst_value(case, as_json))}
        with within(2, f"{case} in {code} {name} to the API"):
            response = client.post("/api/v1/submissions", json=body)
        assert response.status_code == 422 and name in response.get_json()["errors"], name
        assert response.request.content_length > 200_000
        answers += 1
    assert answers > 100
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Notice.id))) == 0


def patterns_that_read_input():
    """Yield (name, call, worst input) for every other pattern that reads what people send."""
    from notices import documents
    from notices import forms
    from notices import search
    from notices import templating
    from notices import wording

    n = 250_000
    yield "phone brackets", forms.normalize_phone, "(" * n + "0"
    yield "phone spaces", forms.normalize_phone, " " * n + "x"
    yield "phone rule", forms.LANDLINE.fullmatch, "0891-" + "1" * n
    yield "document number", documents.normalize_number, "\u3000" * n + "x"
    yield "query quotes", search.split_query, '"a' * n
    yield "query separators", search.split_query, ", " * n
    yield "words", lambda text: list(search.words(text)), "ཀ་" * (n // 2)
    yield "bigrams", lambda text: list(search.grams(text)), "a1" * (n // 2)
    yield "links", templating.linkify, "http://" * (n // 7)
    yield "link brackets", templating.linkify, "https://a" + "(" * n
    yield "log paths", redact, "/track/" * (n // 7)
    yield "log numbers", redact, ("1" * 16 + "a") * (n // 17)
    yield "enumeration", wording.clean_lines, "（" + "1" * n + " " * n + "x"
    yield "schemes", wording.foreign_scheme, "a:" * n


@pytest.mark.parametrize(
    ("name", "call", "text"),
    [pytest.param(*case, id=case[0]) for case in patterns_that_read_input()],
)
def test_every_other_pattern_reading_input_takes_linear_time(name, call, text):
    with within(1, f"the {name} pattern on {len(text)} characters"):
        call(text)


def test_logout_ends_the_session_on_the_server(client, editor):
    login(client)
    stolen = client.get_cookie("session").value
    assert client.get("/editor/").status_code == 200
    client.post("/editor/logout")
    # The browser forgot the cookie; a copy of it replayed later is refused all the same.
    client.set_cookie("session", stolen)
    response = client.get("/editor/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/editor/login")


def test_logout_ends_only_that_login(app, editor):
    phone, desk = app.test_client(), app.test_client()
    login(phone)
    login(desk)
    phone.post("/editor/logout")
    assert phone.get("/editor/").status_code == 302
    assert desk.get("/editor/").status_code == 200


def test_a_new_password_ends_every_open_session(app, editor):
    from notices import accounts

    client = app.test_client()
    login(client)
    with app.app_context():
        accounts.set_password("editor", "another-long-password")
    assert client.get("/editor/").status_code == 302


def test_a_login_lasts_login_session_hours(app, client, editor):
    login(client)
    hours = app.config["LOGIN_SESSION_HOURS"]
    with time_machine.travel(expiry.utcnow() + timedelta(hours=hours, minutes=-1)):
        assert client.get("/editor/").status_code == 200
    with time_machine.travel(expiry.utcnow() + timedelta(hours=hours, minutes=1)):
        assert client.get("/editor/").status_code == 302


def test_only_the_session_ids_hash_is_stored(app, client, editor):
    login(client)
    cookie = client.get_cookie("session").value
    with app.app_context():
        stored = db.session.scalars(db.select(LoginSession.id_hash)).all()
    assert len(stored) == 1 and len(stored[0]) == 64
    assert stored[0] not in cookie


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /track/Zq3-_x9AbCdEfGhIjKlMnOpQrStUvWxYz012 HTTP/1.1", "Zq3-_x9AbCdEfGhIjKlMnOpQrStUvWxYz012"),
        ("GET /track/Zq3x9Ab/withdraw HTTP/1.1", "Zq3x9Ab"),
        ("GET /lost?number=540102199001011233 HTTP/1.1", "540102199001011233"),
        ("GET /api/v1/lost-documents?kind=id_card&number=5401021990010112 HTTP/1.1", "5401021990010112"),
        ("GET /search?type=loss_declaration&q=540102199001011233&page=2 HTTP/1.1", "540102199001011233"),
        ("https://board.example/track/Zq3x9Ab", "Zq3x9Ab"),
        ("number=540102199001011233&kind=id_card", "540102199001011233"),
        ("GET /%74rack/Zq3x9Ab HTTP/1.1", "Zq3x9Ab"),
        ("IntegrityError: (540102199001011233, 'T540059774x')", "540102199001011233"),
        ("declared void: 54010219900101123X.", "54010219900101123X"),
    ],
)
def test_redact_removes_tokens_and_numbers(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_the_error_log_of_a_500_names_no_token(failing_app, caplog):
    token = "Zq3x9AbCdEfGhIjKlMnOpQr"
    with caplog.at_level(logging.ERROR):
        failing_app.test_client().get(f"/track/{token}/boom")
    assert "Exception on /track/[redacted]/boom" in caplog.text
    assert token not in caplog.text
    assert re.search(r"RuntimeError: boom", caplog.text)


@pytest.mark.parametrize(("proxies", "separate"), [(1, True), (0, False)])
def test_rate_limits_count_each_client_behind_a_trusted_proxy(app, editor, proxies, separate):
    """Behind the proxy, one attacker's wrong passwords do not lock out everyone else; with
    no proxy configured, X-Forwarded-For is ignored and cannot be used to dodge the limit."""
    from notices import create_app
    from notices.extensions import limiter

    app = create_app({**app.config, "TRUSTED_PROXIES": proxies, "RATELIMIT_ENABLED": True,
                      "LOGIN_RATE_LIMIT": "3 per minute"})
    limiter.init_app(app)
    client = app.test_client()
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    for _ in range(3):
        client.post("/editor/login", data={"username": "editor", "password": "wrong-password"},
                    environ_base=proxy, headers={"X-Forwarded-For": "203.0.113.9"})
    response = client.post("/editor/login", data={"username": "editor", "password": EDITOR_PASSWORD},
                           environ_base=proxy, headers={"X-Forwarded-For": "198.51.100.7"})
    # This second app's connections are its own: closed here, not left open until the
    # fixture drops the database under them (a ResourceWarning on PostgreSQL).
    with app.app_context():
        db.engine.dispose()
    assert response.status_code == (302 if separate else 429)


def test_a_traceback_in_the_log_is_redacted_too(failing_app, caplog):
    @failing_app.get("/leaky")
    def leaky():
        raise ValueError("document 540102199001011233 of /track/Zq3x9AbCdEfGh")

    with caplog.at_level(logging.ERROR):
        failing_app.test_client().get("/leaky")
    assert "ValueError: document [redacted] of /track/[redacted]" in caplog.text
    assert "540102199001011233" not in caplog.text and "Zq3x9AbCdEfGh" not in caplog.text


def test_database_errors_never_quote_their_values(app):
    """SQLAlchemy hides the statement's parameters; PostgreSQL's own DETAIL line quotes the
    refused key, and the log redacts it (notices.logs)."""
    from sqlalchemy.exc import IntegrityError

    insert = db.text(
        'insert into "user" (id, username, password_hash, role, active, created_at) '
        "values (:id, :name, 'x', 'editor', true, '2026-01-01')"
    )
    with app.app_context():
        db.session.execute(insert, {"id": 7, "name": "13800138000"})
        with pytest.raises(IntegrityError) as error:
            db.session.execute(insert, {"id": 8, "name": "13800138000"})
        db.session.rollback()
    # As a log shows it: PostgreSQL's own message quotes the row ("DETAIL:  Key (username)=
    # (13800138000) already exists."), which the logs' redaction removes.
    shown = redact(str(error.value))
    assert ("duplicate key value" if ON_POSTGRESQL else "UNIQUE constraint failed") in shown
    assert "13800138000" not in shown


def test_the_access_log_redacts_every_field():
    """gunicorn's access-log fields, whatever format an operator chooses."""
    from datetime import timedelta as td
    from types import SimpleNamespace

    from gunicorn.config import Config

    from notices.logs import GunicornLogger

    logger = GunicornLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": "/track/Zq3x9AbCdEf?x=1", "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/track/Zq3x9AbCdEf", "QUERY_STRING": "number=540102199001011233",
        "HTTP_REFERER": "https://board.example/lost?number=540102199001011233",
        "REMOTE_ADDR": "127.0.0.1",
    }
    request = SimpleNamespace(headers=[("COOKIE", "session=abc.def"), ("IDEMPOTENCY-KEY", "k-123")])
    response = SimpleNamespace(status="200 OK", sent=10,
                               headers=[("Set-Cookie", "session=xyz.uvw; Secure")])
    atoms = logger.atoms(response, request, environ, td(seconds=0.01))
    logged = " ".join(str(value) for value in atoms.values())
    for secret in ("Zq3x9AbCdEf", "540102199001011233", "abc.def", "xyz.uvw", "k-123"):
        assert secret not in logged


def test_the_board_stays_at_its_configured_root(tmp_path, migrated_db):
    """Under APPLICATION_ROOT the board answers with or without the prefix (a proxy may strip it
    or pass it on), its links carry it, and a SCRIPT_NAME it was not given is part of the path."""

    from conftest import config

    from notices import create_app

    copy_database(migrated_db, tmp_path / "t.db")
    app = create_app({**config(tmp_path, tmp_path / "t.db"), "APPLICATION_ROOT": "/board"})
    client = app.test_client()
    # As a server passes requests on: the whole path, and no SCRIPT_NAME of its own.
    server = "http://localhost/"
    for path in ("/board/search", "/search"):
        page = client.get(path, base_url=server)
        assert page.status_code == 200, path
        assert 'href="/board/static/board.css"' in page.get_data(as_text=True)
    crafted = client.get("/search", base_url=server,
                         environ_overrides={"SCRIPT_NAME": "//evil.example"})
    assert crafted.status_code == 404
    assert "evil.example" not in crafted.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


def test_database_error_details_never_reach_a_log(app, caplog):
    """PostgreSQL's DETAIL line quotes the row it refused, which hide_parameters leaves alone."""
    from sqlalchemy.exc import IntegrityError

    detail = (
        'duplicate key value violates unique constraint "notice_ref_key"\n'
        "DETAIL:  Key (ref, submitter_phone)=(YS-20240308-7K3QX, 13912345678) already exists."
    )
    with caplog.at_level(logging.ERROR):
        try:
            raise IntegrityError("INSERT INTO notice ...", {"ref": "x"}, Exception(detail),
                                 hide_parameters=True)
        except IntegrityError as error:
            app.logger.exception("could not store: %s", error)
    record = caplog.records[-1]
    logged = caplog.text + logging.Formatter().format(record)
    assert "duplicate key value violates unique constraint" in logged
    for secret in ("YS-20240308-7K3QX", "13912345678", "Key (ref"):
        assert secret not in logged


@pytest.mark.parametrize("line", [
    "DETAIL:  Failing row contains (7, YS-20240308-7K3QX, 13912345678).",
    "psycopg.errors.UniqueViolation: ... Key (lower(username))=(pema (13912345678)) already exists",
    'Key (phone)=(13912345678) is not present in table "contact".',
])
def test_redact_removes_database_details(line):
    assert "13912345678" not in redact(line)


def test_jieba_keeps_its_cache_in_the_instance_folder(tmp_path):
    """jieba loads whatever cache file it finds, so it never looks in the shared temporary
    folder, where anyone on the machine could put one first: neither in the app nor in
    gunicorn's master, which loads the dictionary before the app."""
    import os
    import subprocess
    import sys

    from notices import REPO_ROOT

    shared, instance = tmp_path / "tmp", tmp_path / "instance"
    shared.mkdir()
    script = (
        "from notices import create_app\n"
        "from notices import search\n"
        "create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://', 'SECRET_KEY': 'x'},"
        f" instance_path={str(instance)!r})\n"
        "print(list(search.words('西藏开发投资集团有限公司')))\n"
    )
    env = {**os.environ, "TMPDIR": str(shared), "PYTHONPATH": REPO_ROOT}
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=120)
    assert (instance / "jieba.cache").is_file()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    subprocess.run([gunicorn, "-c", "gunicorn.conf.py", "--check-config", "app:app"],
                   cwd=REPO_ROOT, env={**env, "WEB_CONCURRENCY": "1"}, check=True,
                   capture_output=True, timeout=120)
    assert os.path.isfile(os.path.join(REPO_ROOT, "instance", "jieba.cache"))
    assert [p.name for p in shared.iterdir()] == []


@pytest.mark.parametrize("path", ["/editor", "/editor/login/", "/notices//YS-20240308-7K3QX",
                                  "/types/loss_declaration/", "/submit/", "/api/v1//notices"])
def test_no_redirect_names_the_host_a_request_gave(client, path):
    """Werkzeug's own redirects (a missing or extra slash) are absolute URLs on the request's
    Host; the board answers such addresses without one, so no cache can keep one."""
    response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code in (200, 302, 404), response.status_code
    assert "evil.example" not in (response.headers.get("Location") or "")
    assert "evil.example" not in response.get_data(as_text=True)
