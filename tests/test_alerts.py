"""Alerts by e-mail, through the real pages, the real database and a real SMTP server on
loopback (tests/smtp.py): subscribe, confirm from the mail, mail on publication, the daily
digest, one-click unsubscribe, the limits on confirmation mail, expiry, and number watches.
"""
import re
from datetime import date
from datetime import timedelta

import pytest
from conftest import at
from sqlalchemy import inspect
from sqlalchemy import text

from notices import expiry
from notices import mail
from notices import search
from notices.alerts import subscriptions
from notices.extensions import db
from notices.extensions import limiter
from notices.models import AlertMatch
from notices.models import AlertSubscription
from notices.models import Notice
from notices.search.analysis import matches

ADDRESS = "zhuoma@example.cn"
DAY = date(2024, 3, 8)


def send(app):
    with app.app_context():
        return mail.send_due()


def link(message, path):
    """Return the path of the first link to ``path`` in a mail, without the board's host."""
    found = re.search(r"https?://[^/\s]+(/alerts/" + path + r"/[^\s]+)", message.text)
    assert found, message.text
    return found.group(1)


def subscribe(app, client, smtp_server, **form):
    """Subscribe through the page, confirm through the mailed link; return the manage page's
    path. The confirmation is the last mail the server holds."""
    form.setdefault("email", ADDRESS)
    form.setdefault("frequency", "immediate")
    answer = client.post("/alerts/new", data=form)
    assert answer.status_code == 200, answer.text
    assert "请查收确认邮件" in answer.text
    assert form["email"] not in answer.text
    send(app)
    confirmation = smtp_server.messages[-1]
    assert confirmation["To"] == form["email"]
    confirm = link(confirmation, "confirm")
    page = client.get(confirm)
    assert "确认订阅" in page.text
    answer = client.post(confirm)
    assert answer.status_code == 303
    return answer.headers["Location"]


def subscription_count(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(AlertSubscription))


def alerts_to(smtp_server, kind=None):
    return [m for m in smtp_server.messages if m["List-Unsubscribe"]]


def test_subscribe_confirm_alert_and_one_click_unsubscribe(app, client, smtp_server, make_notice):
    make_notice("wage_clearance", day=DAY)  # published before: never mailed
    manage = subscribe(app, client, smtp_server, q="工资", type="wage_clearance")
    page = client.get(manage)
    assert "订阅已确认" in page.text and ADDRESS not in page.text

    # A matching notice: one mail, with the permalink, the masked wording and the links.
    notice = make_notice("wage_clearance", day=DAY + timedelta(days=1))
    make_notice("supplier_call", day=DAY + timedelta(days=1))  # another type: nothing
    send(app)
    [alert] = alerts_to(smtp_server)
    body = alert.text
    assert alert["To"] == ADDRESS
    assert f"/notices/{notice.ref}" in body
    assert "/alerts/manage/" in body
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<https://[^/]+(/alerts/unsubscribe/\S+)>", alert["List-Unsubscribe"])
    assert unsubscribe

    # Following the link (what a mail scanner does) changes nothing.
    assert "确认退订" in client.get(unsubscribe.group(1)).text
    assert subscription_count(app) == 1

    # The one-click POST needs no CSRF token, even with CSRF checks on.
    app.config["WTF_CSRF_ENABLED"] = True
    answer = client.post(unsubscribe.group(1), data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and "已退订" in answer.text
    assert subscription_count(app) == 0
    # A second POST (a mail program retrying) changes nothing and answers as the first did;
    # the manage page is gone, and a token the board never signed is refused.
    again = client.post(unsubscribe.group(1))
    assert again.status_code == 200 and "这项提醒已经退订" in again.text
    assert subscription_count(app) == 0
    assert client.post(unsubscribe.group(1)[:-2] + "xx").status_code == 404
    assert client.get(manage).status_code == 404

    make_notice("wage_clearance", day=DAY + timedelta(days=2), index=0)
    send(app)
    assert len(alerts_to(smtp_server)) == 1


def test_an_unconfirmed_subscription_sends_nothing_and_expires(app, client, smtp_server, make_notice):
    client.post("/alerts/new", data={"type": "supplier_call", "email": ADDRESS, "frequency": "immediate"})
    make_notice("supplier_call")
    send(app)
    mine = [m["Subject"] for m in smtp_server.messages if m["To"] == ADDRESS]
    assert mine == ["【西藏公告栏】请确认邮件提醒"]
    with app.app_context():
        created = db.session.scalar(db.select(AlertSubscription.created_at))
        assert subscriptions.purge_unconfirmed(created + timedelta(days=2)) == 0
        assert subscriptions.purge_unconfirmed(created + timedelta(days=3, seconds=1)) == 1
    [confirmation] = [m for m in smtp_server.messages if m["To"] == ADDRESS]
    assert client.get(link(confirmation, "confirm")).status_code == 404


def test_send_mail_purges_what_expired(app, client, runner):
    client.post("/alerts/new", data={"type": "supplier_call", "email": ADDRESS, "frequency": "daily"})
    with app.app_context():
        db.session.execute(db.update(AlertSubscription).values(
            created_at=expiry.utcnow() - timedelta(days=4)))
        db.session.commit()
    runner.invoke(args=["send-mail"])
    assert subscription_count(app) == 0


def test_the_daily_digest_gathers_a_days_matches_into_one_mail(app, client, smtp_server, make_notice):
    subscribe(app, client, smtp_server, type="loss_declaration", frequency="daily")
    first = make_notice("loss_declaration", day=DAY, index=0)
    second = make_notice("loss_declaration", day=DAY, index=1)
    later = make_notice("loss_declaration", day=DAY + timedelta(days=1), index=2)
    send(app)
    assert alerts_to(smtp_server) == []
    with app.app_context():
        # Still the day itself: nothing is due.
        assert subscriptions.send_digests(at(DAY, 23, 59)) == 0
        assert subscriptions.send_digests(at(DAY + timedelta(days=1), 0, 5)) == 1
    send(app)
    [digest] = alerts_to(smtp_server)
    body = digest.text
    assert "2 则新公告" in digest["Subject"]
    assert first.ref in body and second.ref in body and later.ref not in body
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with app.app_context():
        # Asked again: nothing twice.
        assert subscriptions.send_digests(at(DAY + timedelta(days=1), 0, 10)) == 0
        assert db.session.scalar(db.select(db.func.count()).select_from(AlertMatch)) == 1


def test_switching_to_immediate_on_the_manage_page(app, client, smtp_server, make_notice):
    manage = subscribe(app, client, smtp_server, type="expert_call", frequency="daily")
    notice = make_notice("expert_call")
    answer = client.post(manage.split("?")[0], data={"frequency": "immediate"})
    assert answer.status_code == 303
    assert "每次有新公告时" in client.get(answer.headers["Location"]).text
    send(app)
    # What waited for the digest goes out at the switch.
    [waited] = alerts_to(smtp_server)
    assert notice.ref in waited.text
    later = make_notice("expert_call", day=DAY + timedelta(days=1))
    send(app)
    assert later.ref in alerts_to(smtp_server)[-1].text


def test_one_confirmation_mail_a_day_per_address(app, client, smtp_server):
    app.config.update(RATELIMIT_ENABLED=True)
    limiter.init_app(app)
    limiter.reset()
    try:
        form = {"type": "supplier_call", "email": ADDRESS, "frequency": "immediate"}
        assert client.post("/alerts/new", data=form).status_code == 200
        # The same address in another case, for another subscription: refused.
        again = client.post("/alerts/new", data=dict(form, type="expert_call", email=ADDRESS.upper()))
        assert again.status_code == 429
        assert "每个邮箱每天只发一封" in again.text
        # A refused form (no valid address) counts for nobody's address.
        assert client.post("/alerts/new", data=dict(form, email="x@")).status_code == 422
        assert client.post("/alerts/new", data=dict(form, email="x@example.cn")).status_code == 200
        send(app)
        assert sorted(m["To"] for m in smtp_server.messages) == sorted([ADDRESS, "x@example.cn"])
        # And per client address: ten requests an hour.
        answers = [
            client.post("/alerts/new", data=dict(form, email=f"r{i}@example.cn")).status_code
            for i in range(10)
        ]
        assert answers.count(429) >= 1 and "每个网络地址" in client.post(
            "/alerts/new", data=dict(form, email="last@example.cn")).text
    finally:
        limiter.reset()


def test_forms_say_what_is_wrong_in_chinese(client):
    answer = client.post("/alerts/new", data={"q": "工资", "email": "", "frequency": "weekly"})
    assert answer.status_code == 422
    assert "请填写邮箱" in answer.text and "请选择提醒方式" not in answer.text or "不是有效" in answer.text
    assert client.post("/alerts/new", data={"email": ADDRESS, "frequency": "daily"}).status_code == 404
    answer = client.post("/alerts/watch", data={"number": "", "email": ADDRESS})
    assert answer.status_code == 422 and "请填写证件号码" in answer.text


def test_a_search_for_a_number_is_followed_as_a_watch(app, client):
    answer = client.post("/alerts/new", data={"q": "T540059774", "email": ADDRESS, "frequency": "daily"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/alerts/watch"
    assert subscription_count(app) == 0
    with app.app_context(), pytest.raises(subscriptions.AlertError):
        subscriptions.subscribe(ADDRESS, now=expiry.utcnow(), q="声明 t540 059774")


def test_bad_and_forged_links_find_nothing(app, client):
    for path in ("/alerts/confirm/x", "/alerts/manage/x", "/alerts/unsubscribe/x"):
        assert client.get(path).status_code == 404
    assert client.post("/alerts/unsubscribe/x").status_code == 404


def test_a_watched_number_is_mailed_on_its_loss_declaration_and_never_stored(
    app, client, smtp_server, make_notice
):
    number = "T540059774"
    answer = client.post("/alerts/watch", data={"number": " t5400 59774 ", "email": ADDRESS})
    assert answer.status_code == 200 and number not in answer.text
    send(app)
    [confirmation] = smtp_server.messages
    assert "T5******74" in confirmation.text and number not in confirmation.text
    client.post(link(confirmation, "confirm"))

    make_notice("loss_declaration", index=1)  # another number: nothing
    send(app)
    assert alerts_to(smtp_server) == []
    notice = make_notice("loss_declaration", index=0)
    send(app)
    [alert] = alerts_to(smtp_server)
    assert f"/notices/{notice.ref}" in alert.text
    assert "T5******74" in alert["Subject"]

    with app.app_context():
        connection = db.session.connection()
        for table in ("alert_subscription", "alert_match", "mail_log", "mail_outbox"):
            columns = [c["name"] for c in inspect(connection).get_columns(table)]
            rows = db.session.execute(text(f"SELECT * FROM {table}")).all()
            for row in rows:
                for name, value in zip(columns, row):
                    assert number not in str(value).upper(), (table, name)


def test_a_subscribers_address_is_never_on_a_public_page(app, client, smtp_server, make_notice):
    manage = subscribe(app, client, smtp_server, q="开发投资")
    for path in (manage, manage.replace("/manage/", "/unsubscribe/").split("?")[0], "/", "/search?q=开发投资"):
        assert ADDRESS not in client.get(path).text


# --- matching a notice as the search would ------------------------------------------------

QUERIES = [
    "工资", "开发投资", "西藏开发投资集团", '"开发投资"', "T540059774", "t540 059774",
    "尼木县 景区", "出生医学证明", "拉萨 不存在的词", "!!", "巴登曲加", "397403", "有限公司 工资",
]


def agree_with_the_search(make_notice, app):
    day = DAY
    made = [make_notice(code, day=day, index=i) for code, i in (
        ("supplier_call", 0), ("expert_call", 0), ("wage_clearance", 0),
        ("loss_declaration", 0), ("loss_declaration", 2),
    )]
    with app.app_context():
        search.drain()
        for q in QUERIES:
            found = {hit.ref for hit in search.search(q, today=day, status="all", per_page=100).hits}
            for notice in made:
                notice = db.session.get(Notice, notice.id)
                shown = subscriptions.board.show(notice, day)
                numbers = {item.document_number for item in notice.items}
                predicted = matches(q, shown.title + "\n" + shown.text.plain(), numbers)
                assert predicted == (notice.ref in found), (q, notice.kind)



def test_matching_agrees_with_the_databases_search(make_notice, app):
    """What an alert matches is what the search finds: Whoosh on SQLite, PostgreSQL's own
    search on PostgreSQL."""
    agree_with_the_search(make_notice, app)


@pytest.mark.search_engine("whoosh")
def test_matching_agrees_with_whoosh(make_notice, app):
    agree_with_the_search(make_notice, app)
