"""`flask purge`: each kind of personal data removed on the first day past its period, never
the day before; once per day; public pages untouched; the bytes gone from the SQLite file."""
import re
from datetime import date
from datetime import timedelta

import pytest
from conftest import ON_POSTGRESQL
from conftest import at

from notices import expiry
from notices import kinds
from notices import pages
from notices.alerts import subscriptions as alerts
from notices.extensions import db
from notices.models import AlertSubscription
from notices.models import AuditEntry
from notices.models import LossItem
from notices.models import MailLog
from notices.models import MailOutbox
from notices.models import Notice
from notices.models import Objection
from notices.models import ObjectionEvent
from notices.models import PurgeRun
from notices.objections import records
from notices.privacy import MARKER

DAY = date(2024, 3, 8)
# A phone number no seed carries, so finding its bytes means finding this submitter's.
PHONE = "13712345678"


def purge(runner, day):
    result = runner.invoke(args=["purge", "--today", day.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def load(app, ref):
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        notice.items, notice.events  # loaded before the session closes
        db.session.expunge_all()
        return notice


def runs(app):
    with app.app_context():
        return [(r.day, r.counts) for r in db.session.scalars(db.select(PurgeRun).order_by(PurgeRun.id))]


def everything(app):
    """Return every row of the tables a purge touches, as plain tuples."""
    tables = (Notice, LossItem, AuditEntry, AlertSubscription, MailLog, MailOutbox, Objection,
              ObjectionEvent, PurgeRun)
    with app.app_context():
        return {
            model.__name__: [tuple(row) for row in db.session.execute(
                db.select(*model.__table__.columns).order_by(model.__table__.c.id)
            )]
            for model in tables
        }


def test_contacts_of_a_published_notice_go_the_day_after_their_period(app, runner, make_notice):
    # The receipt and approval mails waiting in the outbox are not this test's concern.
    app.config["RETAIN_MAIL_DAYS"] = 10_000
    notice = make_notice("wage_clearance", day=DAY, submitter_phone=PHONE,
                         submitter_email="tashi@example.cn")
    end = date(2024, 4, 7)
    last_kept = end + timedelta(days=365)
    assert "nothing due" in purge(runner, last_kept)
    kept = load(app, notice.ref)
    assert (kept.submitter_phone, kept.submitter_email, kept.contacts_purged_at) == (
        PHONE, "tashi@example.cn", None)
    assert runs(app) == []

    output = purge(runner, last_kept + timedelta(days=1))
    assert "contacts 1" in output
    purged = load(app, notice.ref)
    assert purged.submitter_name == MARKER and purged.submitter_phone == MARKER
    assert purged.submitter_email is None and purged.contacts_purged_at is not None
    # The public record stays as it was.
    assert purged.fields == kept.fields and purged.status == "published"
    assert purged.content_purged_at is None
    assert [e.action for e in purged.events] == ["submit", "approve", "purge"]
    assert purged.events[-1].actor == "系统" and purged.events[-1].reason == "保存期满,删除提交人联系方式"
    assert runs(app) == [(last_kept + timedelta(days=1), {"contacts": 1})]


def test_a_revoked_notice_counts_from_its_window_too(app, runner, make_notice):
    notice = make_notice("supplier_call", day=DAY, status="revoked")
    last_kept = date(2024, 4, 7) + timedelta(days=365)
    purge(runner, last_kept)
    assert load(app, notice.ref).contacts_purged_at is None
    purge(runner, last_kept + timedelta(days=1))
    assert load(app, notice.ref).submitter_name == MARKER


@pytest.mark.parametrize("code", list(kinds.KINDS))
def test_a_rejected_submission_loses_all_its_personal_data_after_the_shorter_period(
    app, runner, client, editor, make_notice, code
):
    app.config["RETAIN_MAIL_DAYS"] = 10_000
    notice = make_notice(code, day=DAY, status="rejected", submitter_phone=PHONE,
                         submitter_email="tashi@example.cn")
    before = load(app, notice.ref)
    # Rejected at 10:00 on DAY: kept through DAY + 90.
    purge(runner, DAY + timedelta(days=90))
    assert load(app, notice.ref).fields == before.fields

    purge(runner, DAY + timedelta(days=91))
    after = load(app, notice.ref)
    assert (after.ref, after.kind, after.status, after.submitted_at, after.closed_at, after.window_start) == (
        before.ref, before.kind, before.status, before.submitted_at, before.closed_at, before.window_start)
    assert after.submitter_name == MARKER and after.submitter_phone == MARKER
    assert after.submitter_email is None
    assert after.content_purged_at is not None and after.contacts_purged_at is not None
    for name, value in after.fields.items():
        if name in ("scopes", "application_methods"):
            assert value == before.fields[name]  # choices from a list, naming nobody
        elif isinstance(value, list):
            assert value in ([], [MARKER]), name
        else:
            assert value in (MARKER, ""), name
    for item in after.items:
        assert item.owner_name == MARKER and item.document_number == MARKER
    assert [e.action for e in after.events] == ["submit", "reject", "purge"]
    assert after.events[1].reason == "材料不全"  # the audit trail stays whole
    assert runs(app) == [(DAY + timedelta(days=91), {"unpublished": 1})]

    # The tracking page and the editor's review page still open, and say what happened.
    track = client.get(f"/track/{notice.token}")
    assert track.status_code == 200
    page = track.get_data(as_text=True)
    assert "按保存期限删除" in page and "resubmit-link" not in page
    refused = client.get(f"/track/{notice.token}/resubmit", follow_redirects=True)
    assert "这份提交的内容已按保存期限删除,无法重新提交" in refused.get_data(as_text=True)
    client.post("/editor/login", data={"username": "editor", "password": "correct-horse-battery"})
    review = client.get(f"/editor/notices/{notice.ref}")
    assert review.status_code == 200 and "按期删除个人信息" in review.get_data(as_text=True)


def test_a_withdrawal_late_in_the_evening_counts_from_its_own_board_day(app, runner, make_notice):
    from notices import services

    notice = make_notice("loss_declaration", day=DAY, status="submitted")
    with app.app_context():
        # 23:30 in Lhasa is 15:30 UTC: still DAY on the board.
        services.withdraw(db.session.get(Notice, notice.id), now=at(DAY, 23, 30))
    purge(runner, DAY + timedelta(days=90))
    assert load(app, notice.ref).content_purged_at is None
    purge(runner, DAY + timedelta(days=91))
    assert load(app, notice.ref).items[0].document_number == MARKER


def test_a_submission_under_review_is_kept(app, runner, make_notice):
    notice = make_notice("wage_clearance", day=DAY, status="submitted")
    purge(runner, DAY + timedelta(days=5000))
    kept = load(app, notice.ref)
    assert kept.contacts_purged_at is None and kept.content_purged_at is None


def test_unconfirmed_subscriptions_go_after_their_confirmation_days(app, runner):
    with app.app_context():
        # 23:00 on DAY, the last instant its link works is DAY + 3 at 23:00.
        waiting = alerts.subscribe("late@example.cn", now=at(DAY, 23), q="工资")
        confirmed = alerts.subscribe("kept@example.cn", now=at(DAY, 8), notice_kind="wage_clearance")
        alerts.confirm(confirmed, now=at(DAY, 9))
        ids = waiting.id, confirmed.id
    purge(runner, DAY + timedelta(days=3))
    with app.app_context():
        assert db.session.get(AlertSubscription, ids[0]) is not None
    purge(runner, DAY + timedelta(days=4))
    with app.app_context():
        assert db.session.get(AlertSubscription, ids[0]) is None
        assert db.session.get(AlertSubscription, ids[1]) is not None
    assert runs(app)[-1][1]["subscriptions"] == 1


def test_mail_rows_go_after_their_period(app, runner):
    late = at(DAY, 23, 59)
    with app.app_context():
        db.session.add(MailLog(
            outbox_id=1, kind="receipt", recipient_hash="ab" * 32, dedupe_key="receipt:X",
            message_id="<1@x>", outcome="sent", attempts=1, created_at=late, finished_at=late,
        ))
        db.session.add(MailOutbox(
            kind="approve", recipient="stuck@example.cn", subject="s", body="b",
            message_id="<2@x>", created_at=late, next_attempt_at=late,
        ))
        db.session.commit()
    purge(runner, DAY + timedelta(days=90))
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MailLog)) == 1
    purge(runner, DAY + timedelta(days=91))
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MailLog)) == 0
        assert db.session.scalar(db.select(db.func.count()).select_from(MailOutbox)) == 0
    assert runs(app) == [(DAY + timedelta(days=91), {"mail_log": 1, "mail_outbox": 1})]


def test_a_second_run_on_the_same_day_changes_and_records_nothing(app, runner, make_notice):
    make_notice("wage_clearance", day=DAY)
    make_notice("loss_declaration", day=DAY, status="withdrawn")
    make_notice("supplier_call", day=DAY, status="rejected")
    day = DAY + timedelta(days=800)
    assert "contacts 1, unpublished 2" in purge(runner, day)
    first = everything(app)
    assert "nothing due" in purge(runner, day)
    assert everything(app) == first
    assert "nothing due" in purge(runner, day + timedelta(days=1))
    assert everything(app) == first
    assert len(first["PurgeRun"]) == 1


def test_public_pages_and_answers_are_unchanged_by_a_purge(app, runner, make_notice):
    today = expiry.board_today(expiry.utcnow())
    notices = [make_notice(code, day=today - timedelta(days=400)) for code in kinds.KINDS]
    notices.append(make_notice("wage_clearance", day=today - timedelta(days=400), status="revoked",
                               project_name="拉萨市另一个项目"))
    urls = ["/", "/archive", "/api/v1/notices?status=all", "/search?q=%E5%B7%A5%E7%A8%8B&status=all",
            "/lost?number=T540059774", "/api/v1/lost-documents?number=T540059774"]
    for notice in notices:
        urls += [f"/notices/{notice.ref}", f"/api/v1/notices/{notice.ref}", f"/types/{notice.kind}?status=all",
                 f"/feeds/types/{notice.kind}.atom"]
    urls += ["/feeds/notices.atom", "/feeds/search.atom?q=%E5%B7%A5%E7%A8%8B"]

    def fetch():
        # A fresh client of a fresh worker's cache: nothing kept from the first fetch.
        pages.init_app(app)
        client = app.test_client()
        answers = {}
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            # The search page's alert form carries each client's own CSRF token.
            answers[url] = re.sub(rb'name="csrf_token" value="[^"]+"', b"", response.get_data())
        return answers

    before = fetch()
    assert "contacts 5" in purge(runner, today)
    after = fetch()
    for url in urls:
        assert after[url] == before[url], url


@pytest.mark.skipif(ON_POSTGRESQL, reason="the bytes of SQLite's own file")
def test_purged_bytes_leave_the_sqlite_file_and_its_log(app, runner, make_notice, tmp_path):
    notice = make_notice("loss_declaration", day=DAY, status="rejected", submitter_phone=PHONE,
                         items=[{"owner_name": "巴登曲加", "document_type": "birth_certificate",
                                 "document_number": "Q540098765"}])
    with app.app_context():
        # A deleted row (not an overwritten one): its bytes would stay in the page's free
        # space without secure_delete.
        alerts.subscribe("never-confirmed@example.cn", now=at(DAY, 9), q="工资")

    def on_disk():
        data = b"".join(path.read_bytes() for path in sorted(tmp_path.glob("t.db*")))
        return (PHONE.encode() in data, b"Q540098765" in data, "巴登曲加".encode() in data,
                b"never-confirmed@example.cn" in data)

    assert on_disk() == (True, True, True, True)
    assert "subscriptions 1" in purge(runner, DAY + timedelta(days=91))
    assert load(app, notice.ref).submitter_phone == MARKER
    assert on_disk() == (False, False, False, False)


def object_to(app, notice, day, *, resolve_on=None, user=None):
    """Store an objection to ``notice`` on ``day`` (resolved by ``user`` on ``resolve_on``);
    return its id."""
    with app.app_context():
        objection, _ = records.submit(
            db.session.get(Notice, notice.id), name="次仁多吉", phone=PHONE, amount_fen=1_250_000,
            period="2024年1月至2月", work="钢筋工", details="班组12人", now=at(day, 11),
        )
        if resolve_on is not None:
            records.record(objection, db.session.merge(user), "resolved", "已结清", now=at(resolve_on, 23, 30))
        return objection.id


def objection(app, objection_id):
    with app.app_context():
        row = db.session.get(Objection, objection_id)
        db.session.expunge(row)
        return row


def test_an_objectors_words_and_contacts_go_the_day_after_their_period_from_its_resolution(
    app, runner, client, editor, make_notice
):
    app.config["RETAIN_MAIL_DAYS"] = 10_000
    wage = make_notice("wage_clearance", day=DAY)
    # Resolved at 23:30 in Lhasa on DAY + 5: kept through DAY + 95.
    resolved = object_to(app, wage, DAY + timedelta(days=1), resolve_on=DAY + timedelta(days=5), user=editor)
    waiting = object_to(app, wage, DAY + timedelta(days=2))
    counts = client.get(f"/api/v1/notices/{wage.ref}").get_json()["objections"]
    assert counts == {"received": 2, "resolved": 1}

    assert "nothing due" in purge(runner, DAY + timedelta(days=95))
    assert objection(app, resolved).phone == PHONE

    assert "objections 1" in purge(runner, DAY + timedelta(days=96))
    gone = objection(app, resolved)
    assert (gone.name, gone.phone, gone.period, gone.work, gone.details) == (MARKER,) * 4 + (None,)
    assert (gone.amount_fen, gone.status) == (1_250_000, "resolved")
    assert objection(app, waiting).phone == PHONE
    # The public counts stay as they were.
    assert client.get(f"/api/v1/notices/{wage.ref}").get_json()["objections"] == counts

    # An objection no one resolved goes with its notice's submitter contacts.
    last_kept = date(2024, 4, 7) + timedelta(days=365)
    purge(runner, last_kept)
    assert objection(app, waiting).phone == PHONE
    assert "objections 1" in purge(runner, last_kept + timedelta(days=1))
    assert objection(app, waiting).name == MARKER
    assert "nothing due" in purge(runner, last_kept + timedelta(days=2))
