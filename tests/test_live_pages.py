"""Kept pages under gunicorn: a change made through one worker is on every worker's next page.

A board served as in production (tests/live.py: gunicorn with gunicorn.conf.py, four workers)
keeps the front page and the API's list in each worker. Every worker is made to serve both,
then an editor approves a notice through whichever worker answers; readers then ask until every
worker has answered again, and every answer shows the notice.
"""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from live import LOAD_LIMITS
from live import Client
from live import LiveBoard
from live import seed_submission

# The access log names the worker that answered.
ACCESS_FORMAT = '%(p)s "%(r)s" %(s)s'
ACCESS_LINE = re.compile(r'^<(\d+)> "(\S+) (\S+) ')
PAGES = ["/", "/api/v1/notices"]
ROUNDS = 20


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    with LiveBoard(tmp_path_factory.mktemp("pages"), env=LOAD_LIMITS,
                   access_format=ACCESS_FORMAT) as live:
        yield live


def publish(board, editor, index):
    submitted = editor.submit_api(seed_submission("loss_declaration", index))
    assert submitted.status == 201, submitted.text
    ref = submitted.json()["ref"]
    _, messages = editor.approve(ref)
    assert messages and messages[0][0] == "success", messages
    return ref


def answered_by(board, path, since):
    """Return the pids of the workers that answered GET ``path`` after line ``since`` of the log."""
    pids = set()
    for line in board.access_log.read_text().splitlines()[since:]:
        match = ACCESS_LINE.match(line)
        if match and match.group(3) == path:
            pids.add(int(match.group(1)))
    return pids


def read_until_every_worker_answered(board):
    """GET every page from many readers at once, round after round, until each worker has
    answered each page; return the answers as (path, response)."""
    workers = set(board.worker_pids())
    since = len(board.access_log.read_text().splitlines())
    answers = []

    def one(path):
        return path, Client(board.base_url).get(path)

    with ThreadPoolExecutor(max_workers=2 * len(workers)) as pool:
        for _ in range(ROUNDS):
            answers.extend(pool.map(one, PAGES * 2 * len(workers)))
            if all(workers <= answered_by(board, path, since) for path in PAGES):
                break
    missing = {path: workers - answered_by(board, path, since) for path in PAGES}
    assert not any(missing.values()), f"workers that never answered: {missing}"
    return answers


def test_an_approval_through_one_worker_is_on_every_workers_next_page(board):
    editor = Client(board.base_url)
    assert editor.login()
    first = publish(board, editor, 0)
    for path, response in read_until_every_worker_answered(board):
        assert response.status == 200 and first in response.text, path

    second = publish(board, editor, 1)
    answers = read_until_every_worker_answered(board)
    stale = [path for path, response in answers if second not in response.text]
    assert not stale, f"{len(stale)} of {len(answers)} answers without the approved notice"
    # Every worker rendered the same page, so a tag one worker gave is good at any other.
    for path in PAGES:
        tags = {response.headers["ETag"] for p, response in answers if p == path}
        assert len(tags) == 1, (path, tags)
