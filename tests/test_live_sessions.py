"""Logins under gunicorn: limits counted across workers, and a logout no cookie survives."""
import os
import subprocess
import sys

import pytest
from live import EDITOR
from live import EDITOR_PASSWORD
from live import ROOT
from live import Client
from live import LiveBoard
from live import seed_submission

ATTEMPTS = 40


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """Four workers counting logins in one Redis: at most 10 attempts a minute per address."""
    env = {"FLASK_LOGIN_RATE_LIMIT": "10 per minute", "FLASK_SUBMIT_RATE_LIMIT": "5 per hour"}
    # The access log names the worker that answered each request.
    with LiveBoard(tmp_path_factory.mktemp("sessions"), env=env,
                   access_format='%(p)s "%(r)s" %(s)s') as live:
        yield live


def test_login_attempts_are_counted_across_workers(board):
    client = Client(board.base_url)
    token = client.csrf_token("/editor/login")
    statuses = [
        client.post("/editor/login", form={
            "csrf_token": token, "username": EDITOR, "password": f"wrong-{i}",
        }).status
        for i in range(ATTEMPTS)
    ]
    print(f"\n{ATTEMPTS} wrong logins over {board.workers} workers: {statuses.count(200)} answered, "
          f"{statuses.count(429)} refused with 429")
    answered_by = {
        line.split()[0] for line in board.access_log.read_text().splitlines()
        if '"POST /editor/login' in line
    }
    print(f"answered by {len(answered_by)} workers")
    # Each worker counting alone would have let up to 4 × 10 through.
    assert len(answered_by) >= 2
    assert statuses.count(200) == 10
    assert statuses.count(429) == ATTEMPTS - 10
    assert not [s for s in statuses if s >= 500]


def test_submissions_are_counted_across_workers(board):
    client = Client(board.base_url)
    statuses = [client.submit_api(seed_submission("loss_declaration")).status for _ in range(12)]
    assert statuses.count(201) == 5
    assert statuses.count(429) == 7
    assert board.query("select count(*) from notice")[0][0] == 5


def test_a_replayed_cookie_is_refused_after_logout(tmp_path):
    # A board of its own: the module's has used up this address's login attempts.
    with LiveBoard(tmp_path) as live:
        client = Client(live.base_url)
        assert client.login(EDITOR, EDITOR_PASSWORD)
        assert client.get("/editor/").status == 200
        stolen = dict(client.cookies)
        token = client.csrf_token("/editor/")
        assert client.post("/editor/logout", form={"csrf_token": token}).status == 302
        thief = Client(live.base_url)
        thief.cookies.update(stolen)
        # Whichever worker answers, the session is over.
        for _ in range(8):
            response = thief.get("/editor/")
            assert response.status == 302
            assert response.location.endswith("/editor/login?next=%2Feditor%2F")


def test_gunicorn_refuses_workers_that_would_count_alone(tmp_path):
    env = {**os.environ, "FLASK_RATELIMIT_STORAGE_URI": "memory://", "BIND": "127.0.0.1:0",
           "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    result = subprocess.run([gunicorn, "-c", "gunicorn.conf.py", "app:app"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "FLASK_RATELIMIT_STORAGE_URI" in result.stderr + result.stdout


def test_gunicorn_refuses_workers_without_a_public_address(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("FLASK_PUBLIC_URL", "FLASK_SERVER_NAME")}
    env.update({"FLASK_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1", "BIND": "127.0.0.1:0",
                "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    result = subprocess.run([gunicorn, "-c", "gunicorn.conf.py", "--check-config", "app:app"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "FLASK_PUBLIC_URL" in result.stderr + result.stdout
