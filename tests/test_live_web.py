"""The board's links under gunicorn: no request makes its pages or its API point elsewhere.

A board served as in production (tests/live.py: gunicorn with gunicorn.conf.py, several
workers) is sent requests carrying every header that could move its links to another site:
a SCRIPT_NAME header, Host, X-Forwarded-Host, -Proto and -Prefix, on the permalink, the front
page, search and the API. Then ordinary readers fetch the same pages until every worker has
answered them: nothing of the other site is in any answer, and every absolute URL starts with
FLASK_PUBLIC_URL. ``BATTERY=full`` sends more rounds.
"""
import os
import re
import urllib.parse
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from live import LOAD_LIMITS
from live import Client
from live import LiveBoard
from live import seed_submission

FULL = os.environ.get("BATTERY") == "full"
# Rounds of requests at most, each sent by as many clients at once as there are workers
# (twice over), until every worker has answered each kind of request. The rounds stop as soon
# as they have; on a busy machine the kernel may hand one worker few connections for a while.
ROUNDS = 80 if FULL else 50

EVIL = "evil.example"
HOSTILE = {
    "SCRIPT_NAME": f"//{EVIL}",
    "Host": EVIL,
    "X-Forwarded-Host": EVIL,
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Prefix": f"//{EVIL}",
}
# The access log names the worker that answered and the X-Forwarded-Host it was sent.
ACCESS_FORMAT = '%(p)s %({x-forwarded-host}i)s "%(r)s" %(s)s'
ACCESS_LINE = re.compile(r'^<(\d+)> (\S+) "(\S+) (\S+) ')


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A board with one published notice, submitted and approved through its own pages."""
    with LiveBoard(tmp_path_factory.mktemp("web"), env=LOAD_LIMITS,
                   access_format=ACCESS_FORMAT) as live:
        editor = Client(live.base_url)
        submitted = editor.submit_api(seed_submission("loss_declaration"))
        assert submitted.status == 201, submitted.text
        live.ref = submitted.json()["ref"]
        assert editor.login()
        _, messages = editor.approve(live.ref)
        assert messages and messages[0][0] == "success", messages
        yield live


def pages(ref):
    """Return the reads of the attack: (name, path); each is also tried under //evil.example."""
    return [
        ("permalink", f"/notices/{ref}"),
        ("front page", "/"),
        ("search", "/search?" + urllib.parse.urlencode({"q": "扎西央珍", "status": "all"})),
        ("api notice", f"/api/v1/notices/{ref}"),
        ("api listing", "/api/v1/notices?status=all"),
        ("editor", "/editor"),
    ]


def answered_by(board, path, hostile):
    """Return the pids of the workers that answered ``path``, with or without the attack."""
    pids = set()
    for line in board.access_log.read_text().splitlines():
        match = ACCESS_LINE.match(line)
        if match and match.group(4) == path and (match.group(2) == EVIL) == hostile:
            pids.add(int(match.group(1)))
    return pids


def check(board, name, response, problems):
    """Note anything in ``response`` that names the other site or misses the public address."""
    public = board.env["FLASK_PUBLIC_URL"]
    where = f"{name}: {response!r}"
    if response.status >= 500:
        problems.append(f"{where} answered {response.status}")
    if EVIL in response.text or EVIL in (response.location or ""):
        problems.append(f"{where} names {EVIL}: {response.location} {response.text[:300]!r}")
    if response.headers.get("Content-Type", "").startswith("application/json") \
            and response.status < 300:
        body = response.json()
        urls = [body.get("url"), body.get("tracking_url"),
                *(item.get("url") for item in body.get("items", []))]
        for url in filter(None, urls):
            if not url.startswith(public + "/"):
                problems.append(f"{where} gives {url}, not on {public}")


def send_rounds(board, requests, hostile, covered):
    """Send ``requests`` (name, method, path, json) from many clients at once, round after
    round, until every worker has answered each path ``covered`` names; return the answers."""
    workers = set(board.worker_pids())
    headers = HOSTILE if hostile else {}
    answers = []

    def one(request):
        name, method, path, body = request
        client = Client(board.base_url)
        return name, client.request(method, path, json_body=body, headers=headers)

    with ThreadPoolExecutor(max_workers=2 * len(workers)) as pool:
        for _ in range(ROUNDS):
            answers.extend(pool.map(one, requests * 2))
            if all(workers <= answered_by(board, path, hostile) for path in covered):
                break
    missing = {path: sorted(workers - answered_by(board, path, hostile)) for path in covered}
    return answers, {path: pids for path, pids in missing.items() if pids}


def test_crafted_headers_never_move_the_boards_links(board):
    """Every worker is sent the attack on every page, then every worker serves the same pages
    to ordinary readers: no answer names evil.example, every URL is on FLASK_PUBLIC_URL."""
    public = board.env["FLASK_PUBLIC_URL"]
    reads = pages(board.ref)
    permalink = reads[0][1]
    attack = [
        *((name, "GET", path, None) for name, path in reads),
        *((f"{name} under //{EVIL}", "GET", f"//{EVIL}{path}", None) for name, path in reads),
        ("api submission", "POST", "/api/v1/submissions", seed_submission("loss_declaration")),
        (f"api submission under //{EVIL}", "POST", f"//{EVIL}/api/v1/submissions",
         seed_submission("loss_declaration")),
    ]
    problems = []
    hostile, missed = send_rounds(board, attack, hostile=True, covered=[permalink, "/"])
    assert not missed, f"workers never sent the attack: {missed}"
    statuses = defaultdict(set)
    for name, response in hostile:
        statuses[name].add(response.status)
        check(board, f"attack on {name}", response, problems)
    submissions = [r for name, r in hostile if name == "api submission"]
    assert submissions and all(r.status == 201 for r in submissions), statuses["api submission"]
    assert all(r.json()["tracking_url"].startswith(f"{public}/track/") for r in submissions)
    # The attack changes nothing of what it asks for: the pages are served as to anyone, and a
    # prefix the board was not given is part of the path, which finds nothing.
    assert statuses["permalink"] == {200}
    assert statuses[f"permalink under //{EVIL}"] == {404}

    ordinary = [(name, "GET", path, None) for name, path in reads]
    readers, missed = send_rounds(board, ordinary, hostile=False, covered=[permalink, "/"])
    assert not missed, f"workers never served an ordinary reader: {missed}"
    for name, response in readers:
        check(board, name, response, problems)
    print(f"\n{len(hostile)} crafted requests and {len(readers)} ordinary ones over "
          f"{len(board.worker_pids())} workers; {len(problems)} problems")
    assert problems == [], "\n".join(problems[:20])
