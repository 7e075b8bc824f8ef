"""Mail from a board served as in production: gunicorn's workers write it, `flask send-mail
--watch` beside them sends it to a real SMTP server on loopback.

Submissions with an e-mail address arrive through the API while an editor approves them; the
mail worker is killed with -9 part way and started again. Every receipt and every approval
mail arrives once, and the test prints how long each approval took to reach the mailbox.
"""
import os
import re
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import smtp
from live import BIN
from live import LOAD_LIMITS
from live import ROOT
from live import Client
from live import LiveBoard
from live import varied_submission

FULL = os.environ.get("BATTERY") == "full"
REF = re.compile(r"[A-Z]{2}-\d{8}-[0-9A-Z]{5}")
SUBMISSIONS = 60 if FULL else 16


@pytest.fixture
def mailed_board(tmp_path):
    """A live board whose mail goes to an SMTP server of the test's own, and that server."""
    with smtp.Server() as server:
        env = {**LOAD_LIMITS, "FLASK_MAIL_SERVER": "127.0.0.1", "FLASK_MAIL_PORT": str(server.port),
               "FLASK_MAIL_SENDER": "notices@board.example",
               # A killed worker's claim ends after 3 s, not the default 10 minutes.
               "FLASK_MAIL_LEASE_SECONDS": "3"}
        with LiveBoard(tmp_path / "board", env=env) as board:
            yield board, server


def start_mailer(board):
    log = open(board.tmp / "mailer.out", "ab")
    return subprocess.Popen(
        [str(BIN / "flask"), "--app", "app", "send-mail", "--watch", "--interval", "0.2"],
        cwd=ROOT, env=board.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
    ), log


def arrived(server, subject_has):
    """Return {ref: arrival time} of the messages whose subject contains ``subject_has``."""
    return {
        REF.search(message["Subject"]).group(0): message.at
        for message in list(server.messages) if subject_has in message["Subject"]
    }


def wait_for(what, count, timeout=60):
    deadline = time.monotonic() + timeout
    while len(found := what()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def test_every_receipt_and_approval_is_mailed_once_through_a_killed_worker(mailed_board):
    board, server = mailed_board
    mailer, log = start_mailer(board)
    try:
        submitter = Client(board.base_url)

        def submit(n):
            data = varied_submission(n)
            data["submitter_email"] = f"clerk{n}@example.cn"
            response = submitter.submit_api(data)
            assert response.status == 201, response.text
            return response.json()["ref"]

        with ThreadPoolExecutor(4) as pool:
            refs = list(pool.map(submit, range(SUBMISSIONS)))

        editor = Client(board.base_url)
        assert editor.login()
        approved_at = {}
        for n, ref in enumerate(refs):
            if n == len(refs) // 2:
                # Killed between passes or in one: nothing it claimed is lost, only delayed
                # until its lease ends, and the worker started next sends the rest.
                mailer.kill()
                mailer.wait()
                log.close()
                mailer, log = start_mailer(board)
            _, messages = editor.approve(ref)
            assert messages and messages[0][0] == "success", messages
            approved_at[ref] = time.monotonic()

        receipts = wait_for(lambda: arrived(server, "已收到"), len(refs))
        approvals = wait_for(lambda: arrived(server, "已发布"), len(refs))
    finally:
        mailer.terminate()
        mailer.wait(10)
        log.close()

    subjects = [message["Subject"] for message in server.messages]
    delays = sorted(approvals[ref] - approved_at[ref] for ref in refs if ref in approvals)
    print(f"\nmail: {len(refs)} submissions with an address, {len(server.messages)} mails "
          f"delivered ({len(receipts)} receipts, {len(approvals)} approvals); worker killed -9 "
          f"once; approval to mailbox: median {statistics.median(delays):.2f} s, "
          f"max {max(delays):.2f} s")
    assert sorted(receipts) == sorted(refs)
    assert sorted(approvals) == sorted(refs)
    assert len(subjects) == len(set(subjects)) == 2 * len(refs), "a mail was sent twice"
