"""Mail to submitters, through a real SMTP server on loopback (tests/smtp.py).

Mail rows are written by the services in the event's transaction and sent by the worker
(mail.send_due, `flask send-mail`), which these tests run as the board does: in this process,
in threads racing each other, and as a separate `flask send-mail --watch` killed with -9.
"""
import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import date
from datetime import timedelta

import pytest
import smtp
from conftest import PUBLIC_URL
from conftest import at_once
from conftest import config
from conftest import seed_data

from notices import backup
from notices import create_app
from notices import expiry
from notices import kinds
from notices import mail
from notices import services
from notices.extensions import db
from notices.mail import outbox
from notices.models import MailLog
from notices.models import MailOutbox
from notices.models import Notice
from notices.services import NoticeError

ADDRESS = "dawa@example.cn"
# An ID number passing the GB 11643 check, and how public text shows it.
ID_NUMBER = "11010519491231002X"
MASKED = "1101*************X"


def waiting(app):
    """Return the outbox's rows, oldest first."""
    with app.app_context():
        rows = db.session.scalars(db.select(MailOutbox).order_by(MailOutbox.id)).all()
        db.session.expunge_all()
        return rows


def logged(app):
    """Return the mail log's rows, in order."""
    with app.app_context():
        rows = db.session.scalars(db.select(MailLog).order_by(MailLog.id)).all()
        db.session.expunge_all()
        return rows


def send(app, **options):
    with app.app_context():
        return mail.send_due(**options)


def submit(app, code="loss_declaration", now=None, index=0, **overrides):
    """Submit a seed notice with the submitter's address; return (ref, token)."""
    data = dict(seed_data(code, index), submitter_email=ADDRESS, **overrides)
    if kinds.get(code).submitter_sets_window:
        data.setdefault("window_start", expiry.board_today(expiry.utcnow()).isoformat())
    with app.app_context():
        notice, token = services.submit(
            kinds.get(code), services.flatten(data), now=now or expiry.utcnow()
        )
        return notice.ref, token


def queue_many(app, count, now=None):
    with app.app_context():
        now = now or expiry.utcnow()
        for i in range(count):
            outbox.queue("test", f"reader{i}@example.cn", f"第{i}封", f"正文 {i}\n", now=now)
        db.session.commit()


# --- What the submitter is sent -----------------------------------------------------------


def test_the_receipt_carries_the_absolute_tracking_address_and_arrives_once(app, client, smtp_server):
    body = dict(seed_data("loss_declaration"), type="loss_declaration", submitter_email=ADDRESS)
    answer = client.post("/api/v1/submissions", json=body)
    assert answer.status_code == 201
    tracking_url = answer.json["tracking_url"]
    assert tracking_url.startswith(f"{PUBLIC_URL}/track/")
    # Written with the notice, sent by nobody yet: never from the request.
    assert [row.kind for row in waiting(app)] == ["receipt"]
    assert smtp_server.messages == []

    assert send(app).sent == 1
    assert send(app).sent == 0
    [received] = smtp_server.messages
    assert received.rcpt_tos == [ADDRESS]
    assert received["To"] == ADDRESS
    assert received["From"] == app.config["MAIL_SENDER"]
    assert received["Subject"] == f"【西藏公告栏】已收到您的遗失声明(编号 {answer.json['ref']})"
    assert received["Message-ID"] and received["Date"].endswith("+0800")
    assert received.message.get_content_type() == "text/plain"
    assert received.message.get_content_charset() == "utf-8"
    assert tracking_url in received.text.splitlines()
    # It says the address is the only key, and that it will not come again.
    assert "唯一的凭证" in received.text and "无法补发" in received.text
    assert "扎西央珍不慎,将巴登曲加的出生医学证明" in received.text

    # Sent, the row and its secret are gone; the log keeps neither body nor address.
    assert waiting(app) == []
    [entry] = logged(app)
    assert (entry.kind, entry.outcome, entry.attempts) == ("receipt", "sent", 1)
    assert entry.message_id == received["Message-ID"]
    with app.app_context():
        assert entry.recipient_hash == mail.recipient_hash(ADDRESS.upper())
    assert ADDRESS not in repr(vars(entry))


def test_approval_rejection_revocation_and_withdrawal_each_mail_the_submitter(
    app, make_notice, smtp_server
):
    day = date(2024, 3, 8)
    published = make_notice("supplier_call", day=day, submitter_email=ADDRESS)
    revoked = make_notice("loss_declaration", day=day, status="revoked", submitter_email=ADDRESS)
    rejected = make_notice("wage_clearance", day=day, status="rejected", submitter_email=ADDRESS)
    withdrawn = make_notice("loss_declaration", index=1, day=day, status="withdrawn",
                            submitter_email=ADDRESS)
    assert send(app).sent == 9
    mails = {(m["Subject"].split("】")[1]): m.text for m in smtp_server.messages}

    approval = mails[f"您的非招标采购供应商入库征集公告已发布(编号 {published.ref})"]
    assert f"{PUBLIC_URL}/notices/{published.ref}" in approval.splitlines()
    assert "征集期:2024年3月8日至2024年4月7日" in approval
    assert "一、征集时间" in approval

    rejection = mails[f"您的民工工资结清公示未通过审核(编号 {rejected.ref})"]
    assert "材料不全" in rejection
    assert f"{PUBLIC_URL}/submit/wage_clearance" in rejection.splitlines()
    # The tracking address is not kept, so later mails point back to the receipt.
    assert "/track/" not in rejection and "回执邮件" in rejection

    revocation = mails[f"您的遗失声明已撤销(编号 {revoked.ref})"]
    assert "提交人申请撤销" in revocation
    assert f"{PUBLIC_URL}/notices/{revoked.ref}" in revocation.splitlines()

    assert f"您的遗失声明已撤回(编号 {withdrawn.ref})" in mails
    # Each notice's receipt, and one mail for each decision.
    assert sorted(row.kind for row in logged(app)) == sorted(
        ["receipt"] * 4 + ["approve"] * 2 + ["revoke", "reject", "withdraw"]
    )


def test_no_mail_without_an_address(app, make_notice):
    make_notice("wage_clearance", status="revoked")
    make_notice("loss_declaration", status="rejected")
    assert waiting(app) == []


def test_a_refused_submission_or_transition_writes_no_mail(app, make_notice, editor):
    data = dict(seed_data("loss_declaration"), submitter_email=ADDRESS)
    data["items"] = [{"owner_name": "", "document_type": "id_card",
                      "document_number": "540102199001011234"}]
    with app.app_context():
        with pytest.raises(NoticeError):
            services.submit(kinds.get("loss_declaration"), services.flatten(data),
                            now=expiry.utcnow())
    assert waiting(app) == []

    notice = make_notice("loss_declaration", status="submitted", submitter_email=ADDRESS)
    with app.app_context():
        loaded = db.session.get(type(notice), notice.id)
        with pytest.raises(NoticeError):
            services.revoke(loaded, db.session.merge(editor), "不在发布状态", now=expiry.utcnow())
    assert [row.kind for row in waiting(app)] == ["receipt"]


def test_the_same_submission_confirmed_twice_is_one_receipt(app, client):
    body = dict(seed_data("loss_declaration"), type="loss_declaration", submitter_email=ADDRESS)
    headers = {"Idempotency-Key": "one-key"}
    first = client.post("/api/v1/submissions", json=body, headers=headers)
    again = client.post("/api/v1/submissions", json=body, headers=headers)
    assert first.json == again.json
    assert len(waiting(app)) == 1


def test_mail_never_shows_a_full_id_number(app, editor, smtp_server):
    """An ID number in the declaration, the submitter's name and the reason: masked in all."""
    items = [{"owner_name": "", "document_type": "id_card", "document_number": ID_NUMBER}]
    ref, _ = submit(app, items=items, submitter_name=f"扎西{ID_NUMBER}")
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        user = db.session.merge(editor)
        services.approve(notice, user, now=expiry.utcnow())
        services.revoke(notice, user, f"号码{ID_NUMBER}有误", now=expiry.utcnow())
    assert send(app).sent == 3
    for received in smtp_server.messages:
        whole = received.message.as_string() + received.text + str(received["Subject"])
        assert ID_NUMBER not in whole
        assert MASKED in received.text


def test_console_printing_without_a_mail_server(app, runner):
    """No FLASK_MAIL_SERVER (the demo): `flask send-mail` prints each mail and counts it sent."""
    _, token = submit(app)
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "FLASK_MAIL_SERVER is not set" in result.output
    assert f"To: {ADDRESS}" in result.output
    assert "Subject: 【西藏公告栏】已收到您的遗失声明" in result.output
    assert f"{PUBLIC_URL}/track/{token}" in result.output
    assert "Sent 1 mails; 0 to try again later, 0 given up." in result.output
    assert waiting(app) == [] and [e.outcome for e in logged(app)] == ["sent"]


def test_a_dedupe_key_queues_one_mail_ever(app, smtp_server):
    with app.app_context():
        now = expiry.utcnow()
        assert outbox.queue("alert", ADDRESS, "一", "正文\n", now=now, dedupe_key="k") is not None
        db.session.commit()
        assert outbox.queue("alert", ADDRESS, "二", "正文\n", now=now, dedupe_key="k") is None
        db.session.commit()
        assert send(app).sent == 1
        assert outbox.queue("alert", ADDRESS, "三", "正文\n", now=now, dedupe_key="k") is None
        db.session.commit()
    assert [m["Subject"] for m in smtp_server.messages] == ["一"]


def test_extra_headers_go_out_with_the_mail(app, smtp_server):
    unsubscribe = f"<{PUBLIC_URL}/unsubscribe/abc>"
    with app.app_context():
        outbox.queue("alert", ADDRESS, "新公告", "正文\n", now=expiry.utcnow(), headers={
            "List-Unsubscribe": unsubscribe, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        })
        db.session.commit()
    send(app)
    [received] = smtp_server.messages
    assert received["List-Unsubscribe"] == unsubscribe
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Auto-Submitted"] == "auto-generated"


def test_starttls_and_a_login(app, tmp_path, monkeypatch):
    """FLASK_MAIL_USE_TLS and a login: the server's certificate is checked, the login sent
    only over TLS; a wrong password keeps the mail for later."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl makes the server's certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    start = expiry.utcnow()
    with smtp.Server(tls_context=context, account=("board", "123456")) as server:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=True,
                          MAIL_USERNAME="board", MAIL_PASSWORD="654321")
        queue_many(app, 1, now=start)
        # A certificate no authority vouches for is refused: nothing is sent, nor the login.
        assert send(app, clock=lambda: start).retried == 1
        assert "SSLCertVerificationError" in waiting(app)[0].last_error

        # Made the one authority the board's client trusts, the wrong password is refused.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        assert send(app, clock=lambda: start + timedelta(minutes=1)).retried == 1
        assert waiting(app)[0].last_error.startswith("535 ")

        app.config["MAIL_PASSWORD"] = "123456"
        assert send(app, clock=lambda: start + timedelta(minutes=3)).sent == 1
        assert server.mailbox.logins == ["board"] and len(server.messages) == 1


def test_settings_from_the_environment(tmp_path, monkeypatch):
    """A password that reads as a number stays text; TLS picks its port; TLS and SSL at once
    are refused."""
    monkeypatch.setenv("FLASK_MAIL_PASSWORD", "123456")
    monkeypatch.setenv("FLASK_MAIL_USE_TLS", "true")
    app = create_app(config(tmp_path, tmp_path / "t.db"))
    assert app.config["MAIL_PASSWORD"] == "123456" and app.config["MAIL_PORT"] == 587
    assert app.config["MAIL_SENDER"] == "西藏公告栏 <noreply@notices.example.cn>"
    monkeypatch.setenv("FLASK_MAIL_USE_SSL", "true")
    with pytest.raises(RuntimeError, match="exclude each other"):
        create_app(config(tmp_path, tmp_path / "t.db"))


def test_an_address_that_is_not_ascii_goes_out_with_smtputf8(app, smtp_server):
    with app.app_context():
        outbox.queue("test", "扎西@例子.中国", "主题", "正文\n", now=expiry.utcnow())
        db.session.commit()
    assert send(app).sent == 1
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["扎西@例子.中国"] and received["To"] == "扎西@例子.中国"


# --- Failures, retries and giving up --------------------------------------------------------


def test_a_refusing_server_is_tried_again_with_backoff_then_the_mail_arrives_once(app, smtp_server):
    start = expiry.utcnow()
    submit(app, now=start)
    smtp_server.mailbox.refuse_rcpt("451 4.3.0 Try again later")
    smtp_server.mailbox.refuse_data("452 4.3.1 Insufficient system storage")

    assert send(app, clock=lambda: start).retried == 1
    [row] = waiting(app)
    assert row.attempts == 1 and row.claimed_by is None
    assert row.next_attempt_at == start + timedelta(seconds=60)
    assert row.last_error == "451 4.3.0 Try again later"

    # Not before it is due again; then the second refusal doubles the wait.
    assert not send(app, clock=lambda: start + timedelta(seconds=59))
    assert send(app, clock=lambda: start + timedelta(seconds=60)).retried == 1
    [row] = waiting(app)
    assert row.next_attempt_at == start + timedelta(seconds=60 + 120)
    assert send(app, clock=lambda: start + timedelta(seconds=180)).sent == 1

    assert len(smtp_server.messages) == 1
    assert [answer[:3] for _, answer in smtp_server.mailbox.seen] == ["451", "250", "452", "250", "250"]
    [entry] = logged(app)
    assert (entry.outcome, entry.attempts) == ("sent", 3)


def test_a_permanent_refusal_is_given_up_and_recorded(app, smtp_server):
    submit(app)
    queue_many(app, 1)
    smtp_server.mailbox.refuse_rcpt(f"550 5.1.1 <{ADDRESS}>: Recipient address rejected")
    done = send(app)
    assert (done.sent, done.retried, done.failed) == (1, 0, 1)
    # The next mail went out over the same connection.
    assert [m.rcpt_tos for m in smtp_server.messages] == [["reader0@example.cn"]]
    failed = next(entry for entry in logged(app) if entry.outcome == "failed")
    assert failed.kind == "receipt" and failed.attempts == 1
    assert failed.error == "550 5.1.1 <<recipient>>: Recipient address rejected"
    assert waiting(app) == []


def test_a_mail_is_given_up_after_its_last_attempt(app, smtp_server):
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    start = expiry.utcnow()
    queue_many(app, 1, now=start)
    smtp_server.mailbox.refuse_rcpt(*["421 4.7.0 Too busy"] * 5)
    later = start
    for _ in range(3):
        send(app, clock=lambda: later)
        later += timedelta(hours=1)
    assert waiting(app) == []
    [entry] = logged(app)
    assert (entry.outcome, entry.attempts, entry.error) == ("failed", 3, "421 4.7.0 Too busy")
    assert smtp_server.messages == []


def test_an_unreachable_server_keeps_the_mail_for_later(app):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    queue_many(app, 3)
    done = send(app)
    # The first mail counts a try; the others wait for the next pass, untouched.
    assert (done.sent, done.retried, done.failed) == (0, 1, 0)
    rows = waiting(app)
    assert [row.attempts for row in rows] == [1, 0, 0]
    assert "ConnectionRefusedError" in rows[0].last_error


# --- Several workers, and a killed one ------------------------------------------------------


def test_two_workers_at_once_send_each_mail_once(app, smtp_server):
    queue_many(app, 40)
    results = at_once(2, lambda: send(app))
    assert sum(result.sent for result in results) == 40
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(
        f"reader{i}@example.cn" for i in range(40)
    )
    assert len({entry.outbox_id for entry in logged(app)}) == 40
    assert waiting(app) == []


def test_claims_at_the_same_moment_take_different_mails(app):
    queue_many(app, 1)
    now = expiry.utcnow()

    def claim():
        with app.app_context():
            row = outbox.claim(mail.worker.worker_name(), now)
            return row and row.id

    claimed = at_once(4, claim)
    assert sorted(claimed, key=bool) == [None, None, None, waiting(app)[0].id]


def test_a_worker_killed_between_claim_and_send_leaves_the_mail_to_another(app, smtp_server, tmp_path):
    """`flask send-mail --watch` claims the mail and hangs on a server that never answers;
    killed with -9, it has sent nothing. Once its lease ends, another worker sends the mail."""
    submit(app)
    with socket.socket() as silent:
        # Connections are made (the backlog) and never answered.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        env = {
            **os.environ,
            "FLASK_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "FLASK_SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"],
            "FLASK_SECRET_KEY": "test",
            "FLASK_PUBLIC_URL": PUBLIC_URL,
            "FLASK_MAIL_SERVER": "127.0.0.1",
            "FLASK_MAIL_PORT": str(silent.getsockname()[1]),
            "FLASK_MAIL_TIMEOUT": "120",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "send-mail", "--watch"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not (rows := waiting(app)) or rows[0].claimed_by is None:
                assert worker.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
            # Claimed: give it time to connect and wait for the greeting, then kill it.
            time.sleep(0.5)
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)

    [row] = waiting(app)
    assert row.attempts == 1 and row.claimed_until > expiry.utcnow()
    # The lease holds until it ends, then the mail is anyone's.
    assert not send(app)
    assert send(app, clock=lambda: row.claimed_until + timedelta(seconds=1)).sent == 1
    assert len(smtp_server.messages) == 1
    [entry] = logged(app)
    assert (entry.outcome, entry.attempts) == ("sent", 2)


# --- What a backup holds --------------------------------------------------------------------


def test_a_backup_holds_the_mail_log_but_no_waiting_mail(app, smtp_server, tmp_path):
    """Waiting mail may hold a tracking address, and a restored backup must not send again
    what was sent since: backups leave the outbox's rows out."""
    _, sent_token = submit(app)
    send(app)
    _, token = submit(app, index=1)
    with app.app_context():
        made = backup.backup(str(tmp_path / "board.backup"))
    with open(made.path, "rb") as f:
        held = f.read()
    assert token.encode() not in held and sent_token.encode() not in held

    with app.app_context():
        backup.restore(made.path)
    assert waiting(app) == []
    assert [entry.kind for entry in logged(app)] == ["receipt"]


# --- The demo -------------------------------------------------------------------------------


def test_the_demo_prints_the_mail_a_submission_causes(app):
    """`make demo` (serve-demo, no FLASK_MAIL_SERVER): a newcomer who submits with an address
    sees the receipt, tracking address and all, in the terminal."""
    port = smtp.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "FLASK_SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"],
        "FLASK_SECRET_KEY": "test",
        "FLASK_PUBLIC_URL": base,
    }
    env.pop("FLASK_MAIL_SERVER", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "serve-demo", "--port", str(port)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout], daemon=True).start()

    def read_until(wanted, seconds=60):
        deadline, seen = time.monotonic() + seconds, []
        while not any(wanted in line for line in seen):
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        return "".join(seen)

    try:
        assert "Mail to submitters is printed here" in read_until("Ctrl-C stops it.")
        body = dict(seed_data("loss_declaration"), type="loss_declaration", submitter_email=ADDRESS)
        request = urllib.request.Request(
            f"{base}/api/v1/submissions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            tracking_url = json.load(answer)["tracking_url"]
        printed = read_until(tracking_url)
        assert f"To: {ADDRESS}" in printed and "Subject: 【西藏公告栏】已收到您的遗失声明" in printed
    finally:
        demo.terminate()
        demo.wait(10)
        demo.stdout.close()

