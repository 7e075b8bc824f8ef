"""Objections to wage-clearance notices: the form, its window, the authority's pages and the
counts the public sees."""
import json
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest
import time_machine
from conftest import EDITOR_PASSWORD
from conftest import at
from conftest import config
from test_editor import EDITOR_ROUTES

from notices import accounts
from notices import create_app
from notices import expiry
from notices.extensions import db
from notices.extensions import limiter
from notices.models import MailOutbox
from notices.models import Notice
from notices.models import Objection
from notices.models import ObjectionEvent
from notices.objections import records
from notices.objections.records import ObjectionError
from notices.objections.views import amount_fen
from notices.services import hash_token

DAY = date(2026, 7, 10)
# Its 异议期: DAY to DAY + 30, both whole days in Asia/Shanghai.
LAST_DAY = DAY + timedelta(days=30)
CONTRACTOR_MAIL = "office@xingcan.example.cn"
AUTHORITY = "尼木县人力资源和社会保障局"
AUTHORITY_PASSWORD = "authority-password-1"
WORKER = {
    "name": "次仁多吉",
    "phone": "13908901234",
    "amount": "12,500元",
    "period": "2026年3月至6月",
    "work": "钢筋工,驿站主体",
    "details": "班组12人,工资都没有结清",
}


def text(response):
    return response.get_data(as_text=True)


@pytest.fixture
def wage(make_notice):
    """A published wage notice naming its authority, with the contractor's address."""
    return make_notice("wage_clearance", day=DAY, authority=AUTHORITY, submitter_email=CONTRACTOR_MAIL)


@pytest.fixture
def authority(app):
    with app.app_context():
        return accounts.create_user("nimu", AUTHORITY_PASSWORD, role="authority", authority=AUTHORITY).id


def login(client, username, password):
    return client.post("/editor/login", data={"username": username, "password": password})


def on(day, hour=10, minute=0):
    """Travel to ``hour:minute`` on ``day`` in Lhasa."""
    return time_machine.travel(at(day, hour, minute), tick=False)


def objections(app):
    with app.app_context():
        rows = db.session.scalars(db.select(Objection).order_by(Objection.id)).all()
        db.session.expunge_all()
        return rows


def outbox(app):
    """Return the mail about objections waiting in the outbox."""
    with app.app_context():
        rows = db.session.scalars(
            db.select(MailOutbox).where(MailOutbox.kind == "objection").order_by(MailOutbox.id)
        ).all()
        db.session.expunge_all()
        return rows


def object_to(client, ref, **changes):
    return client.post(f"/notices/{ref}/objection", data={**WORKER, **changes})


def objection_made(app, wage, day=DAY, **changes):
    """Store an objection through the service; return (its ref, its tracking token)."""
    data = {**WORKER, **changes}
    with app.app_context():
        notice = db.session.get(Notice, wage.id)
        objection, token = records.submit(
            notice, name=data["name"], phone=data["phone"], amount_fen=amount_fen(data["amount"]),
            period=data["period"], work=data["work"], details=data["details"], now=at(day, 11),
        )
        return objection.ref, token


# --- The form and what it stores ----------------------------------------------------------


def test_an_objection_is_stored_with_a_private_tracking_page_and_mailed_to_the_contractor(app, client, wage):
    with on(DAY + timedelta(days=3)):
        page = text(client.get(f"/notices/{wage.ref}"))
        assert "收到异议 0 件,已解决 0 件" in page
        assert f'href="/notices/{wage.ref}/objection"' in page
        # Each wage notice in a listing links its form too.
        assert f'href="/notices/{wage.ref}/objection"' in text(client.get("/types/wage_clearance"))
        form = client.get(f"/notices/{wage.ref}/objection")
        assert form.status_code == 200 and AUTHORITY in text(form)
        response = object_to(client, wage.ref)
    assert response.status_code == 302
    token = response.location.rsplit("/", 1)[1]
    [objection] = objections(app)
    # Only the token's hash is kept.
    assert objection.tracking_hash == hash_token(token) and token not in objection.tracking_hash
    assert (objection.name, objection.phone, objection.amount_fen) == ("次仁多吉", "13908901234", 1250000)
    assert objection.authority == AUTHORITY and objection.status == "received"
    assert objection.ref.startswith(f"YY-{DAY + timedelta(days=3):%Y%m%d}-")

    tracking = client.get(f"/objections/{token}")
    assert tracking.status_code == 200
    assert tracking.headers["Cache-Control"] == "no-store"
    assert "noindex" in tracking.headers["X-Robots-Tag"]
    shown = text(tracking)
    assert objection.ref in shown and "已收到,待受理" in shown and "12,500元" in shown
    assert client.get("/objections/" + "x" * 32).status_code == 404

    [mail] = outbox(app)
    assert mail.kind == "objection" and mail.recipient == CONTRACTOR_MAIL
    assert objection.ref in mail.body and wage.ref in mail.body and AUTHORITY in mail.body
    assert "12,500元" in mail.body and "次仁多吉" in mail.body
    # The phone stays with the authority and the editors.
    assert WORKER["phone"] not in mail.body and WORKER["phone"] not in mail.subject


def test_no_mail_is_queued_for_a_contractor_who_gave_no_address(app, make_notice):
    notice = make_notice("wage_clearance", day=DAY)
    objection_made(app, notice)
    assert len(objections(app)) == 1
    assert outbox(app) == []


@pytest.mark.parametrize(
    ("changes", "field_message"),
    [
        ({"name": ""}, "请填写姓名"),
        ({"name": "  "}, "请填写姓名"),
        ({"phone": ""}, "请填写联系电话"),
        ({"phone": "12345"}, "请填写11位手机号"),
        ({"amount": ""}, "请填写拖欠金额"),
        ({"amount": "很多"}, "请填写拖欠的金额(元)"),
        ({"amount": "0"}, "请填写拖欠的金额(元)"),
        ({"amount": "12.345"}, "请填写拖欠的金额(元)"),
        ({"amount": "1000000000"}, "请填写拖欠的金额(元)"),
        # Digits of another script are no amount anyone can pay.
        ({"amount": "١٢٣"}, "请填写拖欠的金额(元)"),
        ({"amount": "9" * 5000}, "不能超过20个字"),
        ({"period": ""}, "请填写拖欠期间"),
        ({"period": "月" * 101}, "不能超过100个字"),
        ({"work": ""}, "请填写所做工作"),
        ({"work": "工" * 201}, "不能超过200个字"),
        ({"details": "情" * 1001}, "不能超过1000个字"),
        ({"name": "名" * 51}, "不能超过50个字"),
    ],
)
def test_a_wrong_field_is_refused_in_chinese_and_nothing_is_stored(app, client, wage, changes, field_message):
    with on(DAY):
        response = object_to(client, wage.ref, **changes)
    assert response.status_code == 422
    assert field_message in text(response)
    assert "提交前请修改以下问题" in text(response)
    assert objections(app) == [] and outbox(app) == []


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("12500", 1250000), ("12,500.5", 1250050), ("12500.05元", 1250005), (" 8 000 ", 800000),
     ("99999999.99", 9999999999)],
)
def test_amounts_are_read_as_people_write_them(typed, fen):
    assert amount_fen(typed) == fen


def test_the_largest_amount_is_stored_exactly(app, client, wage):
    with on(DAY):
        assert object_to(client, wage.ref, amount="99,999,999.99元").status_code == 302
    assert objections(app)[0].amount_fen == 9_999_999_999


def test_the_details_are_optional(app, client, wage):
    with on(DAY):
        assert object_to(client, wage.ref, details="").status_code == 302
    assert objections(app)[0].details is None


def test_only_a_published_wage_notice_takes_objections(app, client, make_notice):
    loss = make_notice("loss_declaration", day=DAY)
    pending = make_notice("wage_clearance", day=DAY, status="submitted")
    with on(DAY):
        for ref in (loss.ref, pending.ref, "GZ-20260710-XXXXX"):
            assert client.get(f"/notices/{ref}/objection").status_code == 404
            assert object_to(client, ref).status_code == 404
        assert "我有异议" not in text(client.get(f"/notices/{loss.ref}"))
    assert objections(app) == []


def test_a_revoked_wage_notice_takes_no_objection(app, client, make_notice):
    revoked = make_notice("wage_clearance", day=DAY, status="revoked")
    with on(DAY):
        form = client.get(f"/notices/{revoked.ref}/objection")
        assert form.status_code == 200 and "<form" not in text(form).split("<main", 1)[1]
        assert "这份公示已撤销,不再接受新的异议" in text(form)
        assert "公示已撤销,不再接受新的异议" in text(client.get(f"/notices/{revoked.ref}"))
        refused = object_to(client, revoked.ref)
        assert refused.status_code == 409 and "不再接受新的异议" in text(refused)
    assert objections(app) == []


def test_the_window_closes_at_midnight_in_lhasa(app, client, wage):
    """The last day is open to its last minute; from midnight (Asia/Shanghai) the form is gone
    and a post is refused, whatever the server's own zone."""
    with on(LAST_DAY, 23, 59):
        page = text(client.get(f"/notices/{wage.ref}"))
        assert "我有异议" in page
        assert 'name="amount"' in text(client.get(f"/notices/{wage.ref}/objection"))
        assert object_to(client, wage.ref).status_code == 302
    # 16:00 UTC is midnight in Lhasa: still the last day in London.
    midnight = datetime.combine(LAST_DAY + timedelta(days=1), datetime.min.time(), expiry.BOARD_TZ)
    with time_machine.travel(midnight, tick=False):
        page = text(client.get(f"/notices/{wage.ref}"))
        assert "异议期已结束,不再接受新的异议" in page and "我有异议" not in page
        assert "收到异议 1 件,已解决 0 件" in page
        form = client.get(f"/notices/{wage.ref}/objection")
        assert form.status_code == 200
        assert 'name="amount"' not in text(form)
        assert f"这份公示的异议期已于{LAST_DAY.year}年{LAST_DAY.month}月{LAST_DAY.day}日结束" in text(form)
        refused = object_to(client, wage.ref)
        assert refused.status_code == 409 and "不再接受新的异议" in text(refused)
    assert len(objections(app)) == 1


def test_the_service_refuses_after_the_window_whoever_calls_it(app, wage):
    objection_made(app, wage, day=LAST_DAY)
    with pytest.raises(ObjectionError) as refused:
        objection_made(app, wage, day=LAST_DAY + timedelta(days=1))
    assert refused.value.field == "notice" and "不再接受新的异议" in refused.value.message
    assert len(objections(app)) == 1


def test_objections_are_rate_limited_with_a_chinese_429(app, client, wage):
    app.config.update(RATELIMIT_ENABLED=True, OBJECTION_RATE_LIMIT="2 per hour")
    limiter.init_app(app)
    limiter.reset()
    try:
        with on(DAY):
            assert object_to(client, wage.ref).status_code == 302
            assert object_to(client, wage.ref, name="").status_code == 422
            refused = object_to(client, wage.ref)
            assert refused.status_code == 429
            assert "提交异议过于频繁" in text(refused) and "上限为每小时 2 次" in text(refused)
            assert "Retry-After" in refused.headers
            # Reading the form is not limited.
            assert client.get(f"/notices/{wage.ref}/objection").status_code == 200
    finally:
        limiter.reset()
    assert len(objections(app)) == 1


def test_the_limit_is_configurable(tmp_path, monkeypatch):
    settings = config(tmp_path, tmp_path / "t.db")
    assert create_app(settings).config["OBJECTION_RATE_LIMIT"] == "10 per hour;30 per day"
    monkeypatch.setenv("FLASK_OBJECTION_RATE_LIMIT", "3 per hour")
    assert create_app(settings).config["OBJECTION_RATE_LIMIT"] == "3 per hour"


def test_the_form_and_the_handling_need_their_csrf_token(app, wage, authority):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    with on(DAY):
        page = text(client.get(f"/notices/{wage.ref}/objection"))
        assert 'name="csrf_token"' in page
        assert object_to(client, wage.ref).status_code == 400
        assert object_to(client, wage.ref, csrf_token="forged.token").status_code == 400
        token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
        assert object_to(client, wage.ref, csrf_token=token).status_code == 302
    [objection] = objections(app)
    staff = app.test_client()
    login_page = text(staff.get("/editor/login"))
    login_token = login_page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    staff.post("/editor/login", data={"username": "nimu", "password": AUTHORITY_PASSWORD,
                                      "csrf_token": login_token})
    refused = staff.post(f"/editor/objections/{objection.ref}", data={"action": "accepted", "note": "已受理"})
    assert refused.status_code == 400
    assert objections(app)[0].status == "received"


# --- Authorities and editors --------------------------------------------------------------


def test_an_authority_sees_only_the_objections_addressed_to_it(app, client, make_notice, wage, authority, editor):
    other = make_notice("wage_clearance", day=DAY, index=0, contractor="拉萨城建有限公司")
    mine, _ = objection_made(app, wage)
    theirs, _ = objection_made(app, other, name="普布")
    response = login(client, "nimu", AUTHORITY_PASSWORD)
    # An authority lands on its objections, not on the review queue.
    assert response.status_code == 302 and response.location == "/editor/objections"
    listing = text(client.get("/editor/objections"))
    assert mine in listing and theirs not in listing and "共 1 件" in listing
    assert "审核队列" not in listing
    detail = text(client.get(f"/editor/objections/{mine}"))
    assert WORKER["phone"] in detail and "次仁多吉" in detail
    assert client.get(f"/editor/objections/{theirs}").status_code == 404
    refused = client.post(f"/editor/objections/{theirs}", data={"action": "resolved", "note": "x"})
    assert refused.status_code == 404
    assert [o.status for o in objections(app)] == ["received", "received"]

    # Editors see every objection, and each one's phone.
    staff = app.test_client()
    login(staff, "editor", EDITOR_PASSWORD)
    everything = text(staff.get("/editor/objections"))
    assert mine in everything and theirs in everything and "共 2 件" in everything
    assert WORKER["phone"] in text(staff.get(f"/editor/objections/{theirs}"))


def test_anonymous_visitors_are_sent_to_log_in(app, client, wage):
    ref, _ = objection_made(app, wage)
    for method, url in [("GET", "/editor/objections"), ("GET", f"/editor/objections/{ref}"),
                        ("POST", f"/editor/objections/{ref}")]:
        response = client.open(url, method=method, data={"action": "resolved", "note": "x"})
        assert response.status_code == 302 and response.location.startswith("/editor/login")
    assert objections(app)[0].status == "received"


# Editor pages other than logout (which ends an authority's session too) and objections.
NOT_FOR_AUTHORITIES = [
    (method, url) for method, url in EDITOR_ROUTES
    if url != "/editor/logout" and not url.startswith("/editor/objections")
]


@pytest.mark.parametrize(("method", "url"), NOT_FOR_AUTHORITIES)
def test_an_authority_reaches_no_editor_page_or_action(app, client, make_notice, authority, editor, method, url):
    pending = make_notice("wage_clearance", day=DAY, status="submitted", authority=AUTHORITY)
    with app.app_context():
        editor_id = accounts.find("editor").id
    login(client, "nimu", AUTHORITY_PASSWORD)
    url = url.format(ref=pending.ref).replace("/1/", f"/{editor_id}/")
    data = {"reason": "x", "confirm": "1", "username": "x", "password": "y" * 12, "role": "admin",
            "active": "0"}
    response = client.open(url, method=method, data=data)
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Notice, pending.id).status == "submitted"
        assert accounts.find("x") is None
        assert db.session.get(accounts.User, editor_id).active


def test_an_authority_can_log_out(app, client, authority):
    login(client, "nimu", AUTHORITY_PASSWORD)
    assert client.get("/editor/objections").status_code == 200
    assert client.post("/editor/logout").status_code == 302
    assert client.get("/editor/objections").status_code == 302


def test_handling_is_recorded_step_by_step_and_shown_to_the_objector(app, client, wage, authority):
    ref, token = objection_made(app, wage)
    login(client, "nimu", AUTHORITY_PASSWORD)
    steps = [("accepted", "已受理,三日内约谈承建单位"), ("forwarded", "已转交尼木县劳动监察大队"),
             ("resolved", "承建单位已补发12,500元")]
    for action, note in steps:
        response = client.post(f"/editor/objections/{ref}", data={"action": action, "note": note})
        assert response.status_code == 302
    # A resolved objection is closed.
    again = client.post(f"/editor/objections/{ref}", data={"action": "forwarded", "note": "再转"},
                        follow_redirects=True)
    assert "异议当前状态为“已解决”,不能记为“已转交”" in text(again)
    detail = text(client.get(f"/editor/objections/{ref}"))
    assert "这份异议已解决" in detail and 'name="note"' not in detail
    with app.app_context():
        events = db.session.scalars(db.select(ObjectionEvent).order_by(ObjectionEvent.id)).all()
        assert [(e.action, e.note, e.actor) for e in events] == [(a, n, "nimu") for a, n in steps]
        assert all(e.user_id == authority and e.created_at.tzinfo for e in events)
    tracking = text(app.test_client().get(f"/objections/{token}"))
    for _, note in steps:
        assert note in tracking
    assert "已解决" in tracking and "nimu" not in tracking


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "accepted", "note": ""}, "请填写处理说明"),
        ({"action": "accepted", "note": "  "}, "请填写处理说明"),
        ({"action": "accepted", "note": "说" * 501}, "不能超过500个字"),
        ({"action": "closed", "note": "好"}, "请选择处理结果:受理、已转交、已解决"),
        ({"note": "好"}, "请选择处理结果"),
    ],
)
def test_a_handling_step_needs_a_known_action_and_a_bounded_note(app, client, wage, authority, data, message):
    ref, _ = objection_made(app, wage)
    login(client, "nimu", AUTHORITY_PASSWORD)
    response = client.post(f"/editor/objections/{ref}", data=data)
    assert response.status_code == 422
    assert message in text(response)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(ObjectionEvent.id))) == 0
    assert objections(app)[0].status == "received"


def test_accepting_twice_is_refused(app, wage, authority):
    ref, _ = objection_made(app, wage)
    with app.app_context():
        user = db.session.get(accounts.User, authority)
        objection = db.session.scalar(db.select(Objection).where(Objection.ref == ref))
        records.record(objection, user, "accepted", "受理", now=at(DAY, 12))
        with pytest.raises(ObjectionError, match="不能记为“受理”"):
            records.record(objection, user, "accepted", "又受理", now=at(DAY, 13))


# --- What the public sees -----------------------------------------------------------------


@pytest.fixture
def other(app, tmp_path):
    """A second instance of the board on the app's database: another worker."""
    other = create_app(config(tmp_path, tmp_path / "t.db"))
    yield other
    with other.app_context():
        db.engine.dispose()


def test_counts_change_at_once_on_every_worker_and_say_nothing_of_who(app, other, wage, authority):
    readers = [app.test_client(), other.test_client()]
    today = expiry.board_today(expiry.utcnow())
    # Kept by both workers first (the page is kept per board day, so the clock stays put).
    for reader in readers:
        assert "收到异议 0 件,已解决 0 件" in text(reader.get(f"/notices/{wage.ref}"))
    with on(DAY):
        object_to(app.test_client(), wage.ref)
    for reader in readers:
        page = text(reader.get(f"/notices/{wage.ref}"))
        assert "收到异议 1 件,已解决 0 件" in page
        assert WORKER["name"] not in page and WORKER["phone"] not in page
    [objection] = objections(app)
    staff = other.test_client()
    login(staff, "nimu", AUTHORITY_PASSWORD)
    staff.post(f"/editor/objections/{objection.ref}", data={"action": "resolved", "note": "已补发"})
    for reader in readers:
        page = text(reader.get(f"/notices/{wage.ref}"))
        assert "收到异议 1 件,已解决 1 件" in page and "已补发" not in page
    assert today == expiry.board_today(expiry.utcnow())


def test_the_api_carries_the_counts_of_wage_notices_only(app, client, make_notice, wage, authority):
    loss = make_notice("loss_declaration", day=DAY)
    assert client.get(f"/api/v1/notices/{wage.ref}").json["objections"] == {"received": 0, "resolved": 0}
    first, _ = objection_made(app, wage)
    objection_made(app, wage, name="普布")
    with app.app_context():
        objection = db.session.scalar(db.select(Objection).where(Objection.ref == first))
        records.record(objection, db.session.get(accounts.User, authority), "resolved", "已补发",
                       now=at(DAY, 15))
    body = client.get(f"/api/v1/notices/{wage.ref}").json
    assert body["objections"] == {"received": 2, "resolved": 1}
    raw = json.dumps(body, ensure_ascii=False)
    assert WORKER["phone"] not in raw and "普布" not in raw and first not in raw
    assert "objections" not in client.get(f"/api/v1/notices/{loss.ref}").json


# --- Accounts -----------------------------------------------------------------------------


def test_create_user_makes_an_authority_account(app, runner):
    result = runner.invoke(args=["create-user", "lasa", "--role", "authority", "--authority", "拉萨市人社局",
                                 "--password-stdin"], input="a-long-password\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = accounts.find("lasa")
        assert (user.role, user.authority) == ("authority", "拉萨市人社局")
    missing = runner.invoke(args=["create-user", "nobody", "--role", "authority", "--password-stdin"],
                            input="a-long-password\n")
    assert missing.exit_code != 0 and "须填写部门名称" in missing.output
    stray = runner.invoke(args=["create-user", "ed", "--authority", "拉萨市人社局", "--password-stdin"],
                          input="a-long-password\n")
    assert stray.exit_code != 0 and "只有受理部门账户填写部门名称" in stray.output


def test_an_admin_creates_an_authority_on_the_accounts_page(app, client):
    with app.app_context():
        accounts.create_user("chief", "chief-password-1", role="admin")
    login(client, "chief", "chief-password-1")
    page = text(client.get("/editor/users"))
    assert "受理部门" in page and 'name="authority"' in page
    refused = client.post("/editor/users", data={"username": "nimu", "role": "authority", "password": "p" * 12})
    assert refused.status_code == 200 and "须填写部门名称" in text(refused)
    too_long = client.post("/editor/users", data={"username": "nimu", "role": "authority",
                                                  "password": "p" * 12, "authority": "局" * 101})
    assert "不能超过100个字" in text(too_long)
    made = client.post("/editor/users", data={"username": "nimu", "role": "authority", "password": "p" * 12,
                                              "authority": f" {AUTHORITY} "})
    assert made.status_code == 302
    with app.app_context():
        assert accounts.find("nimu").authority == AUTHORITY
    listing = text(client.get("/editor/users"))
    assert AUTHORITY in listing
