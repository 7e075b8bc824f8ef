import re
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from conftest import EDITOR_PASSWORD
from conftest import copy_database
from conftest import seed_data
from sqlalchemy import event
from sqlalchemy import update

from notices import accounts
from notices import create_app
from notices import expiry
from notices import kinds
from notices import review
from notices import services
from notices.extensions import db
from notices.models import Notice
from notices.wording import cn_date

EDITOR_ROUTES = [
    ("GET", "/editor/"),
    ("GET", "/editor/notices/{ref}"),
    ("GET", "/editor/notices/{ref}/approve"),
    ("POST", "/editor/notices/{ref}/approve"),
    ("POST", "/editor/notices/{ref}/reject"),
    ("GET", "/editor/notices/{ref}/revoke"),
    ("POST", "/editor/notices/{ref}/revoke"),
    ("GET", "/editor/notices/{ref}/correct"),
    ("POST", "/editor/notices/{ref}/correct"),
    ("POST", "/editor/logout"),
    ("GET", "/editor/users"),
    ("POST", "/editor/users"),
    ("POST", "/editor/users/1/active"),
    ("POST", "/editor/users/1/password"),
    ("GET", "/editor/print"),
    ("GET", "/editor/objections"),
    ("GET", "/editor/objections/{ref}"),
    ("POST", "/editor/objections/{ref}"),
]
ADMIN_ROUTES = [r for r in EDITOR_ROUTES if "/users" in r[1]]


def login(client, username="editor", password=EDITOR_PASSWORD):
    return client.post("/editor/login", data={"username": username, "password": password})


def load(app, ref):
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        db.session.expunge(notice)
        return notice


def test_editor_routes_are_in_the_matrix(app):
    """Every route under /editor/ but the login page is listed above, so none escapes the checks."""
    routes = {
        (method, re.sub(r"<(?:int:)?(\w+)>", "{\\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/editor/") and rule.endpoint != "editor.login"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = {(m, u.replace("/1/", "/{user_id}/")) for m, u in EDITOR_ROUTES}
    assert routes == listed


@pytest.mark.parametrize(("method", "url"), EDITOR_ROUTES)
def test_anonymous_users_are_sent_to_login_and_nothing_changes(app, client, make_notice, method, url):
    ref = make_notice("loss_declaration", status="submitted").ref
    response = client.open(url.format(ref=ref), method=method, data={"reason": "x"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/editor/login")
    assert load(app, ref).status == "submitted"


@pytest.mark.parametrize(("method", "url"), ADMIN_ROUTES)
def test_editors_are_refused_admin_pages(client, editor, method, url):
    login(client)
    response = client.open(url, method=method, data={"username": "x", "password": "y" * 12, "active": "0"})
    assert response.status_code == 403


def test_login_logout(client, editor):
    assert "用户名或密码不正确" in login(client, password="wrong-password").get_data(as_text=True)
    assert client.get("/editor/").status_code == 302
    response = login(client)
    assert response.status_code == 302 and response.headers["Location"] == "/editor/"
    assert client.get("/editor/").status_code == 200
    client.post("/editor/logout")
    assert client.get("/editor/").status_code == 302


def test_login_only_follows_local_next(client, editor):
    response = client.post("/editor/login?next=https://evil.example/", data={"username": "editor", "password": EDITOR_PASSWORD})
    assert response.headers["Location"] == "/editor/"
    client.post("/editor/logout")
    response = client.post("/editor/login?next=/editor/users", data={"username": "editor", "password": EDITOR_PASSWORD})
    assert response.headers["Location"] == "/editor/users"


def test_queue_is_oldest_first_with_counts_and_a_type_filter(client, editor, make_notice):
    first = make_notice("loss_declaration", status="submitted", day=date(2026, 7, 1)).ref
    second = make_notice("wage_clearance", status="submitted", day=date(2026, 7, 2)).ref
    make_notice("loss_declaration", index=1, day=date(2026, 7, 3))
    login(client)
    page = client.get("/editor/").get_data(as_text=True)
    assert page.index(first) < page.index(second)
    assert "共 2 份待审核" in page
    wage_only = client.get("/editor/?type=wage_clearance").get_data(as_text=True)
    assert second in wage_only and first not in wage_only


# Values of ?next= that a browser would follow off the board, raw or once decoded.
OFFSITE_NEXT = [
    "https://evil.example/", "//evil.example", "///evil.example", "////evil.example",
    "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\t/evil.example",
    "/\n/evil.example", "/\r\n/evil.example", "/\x00/evil.example", "/\x7f/evil.example",
    "/%2F/evil.example", "/%2f/evil.example", "/%5Cevil.example", "/%5cevil.example",
    "%2F%2Fevil.example", "/%09/evil.example", "/%0a/evil.example", "/%252F/evil.example",
    "/%25252F%25252Fevil.example", "/editor/\\..\\evil", "/editor/%5C..%5Cevil",
    "javascript:alert(1)", "evil.example", " //evil.example", "\t//evil.example", "",
]
LOCAL_NEXT = [
    "/editor/notices/YS-20240308-7K3QX?x=1", "/editor/", "/editor/?type=loss_declaration&page=2",
    "/editor/users", "/editor/notices/YS-20240308-7K3QX#decision", "/search?q=%E6%89%8E",
]


@pytest.mark.parametrize("target", OFFSITE_NEXT + LOCAL_NEXT)
def test_login_follows_next_only_to_a_path_on_the_board(client, editor, target):
    response = client.post("/editor/login", query_string={"next": target},
                           data={"username": "editor", "password": EDITOR_PASSWORD})
    if "\x00" in target:
        # Refused before the login reads it, as any request holding a NUL is.
        assert response.status_code == 400 and "Location" not in response.headers
        return
    assert response.status_code == 302
    assert response.headers["Location"] == (target if target in LOCAL_NEXT else "/editor/")


def test_queue_pages_beyond_the_last_are_not_found(client, editor, make_notice):
    make_notice("loss_declaration", status="submitted")
    login(client)
    for page in ("2", "99999999999999999999", str(2**64 * 51)):
        assert client.get(f"/editor/?page={page}").status_code == 404, page
        assert client.get(f"/editor/?type=loss_declaration&page={page}").status_code == 404, page
    for page in ("1", "0", "-1", "x", "²"):
        response = client.get(f"/editor/?page={page}")
        assert response.status_code == 200, page
        assert "共 1 份待审核" in response.get_data(as_text=True)


def test_review_page_shows_everything_an_editor_needs(client, editor, make_notice):
    item = {"owner_name": "", "document_type": "id_card", "document_number": "540102199001011233"}
    make_notice("loss_declaration", index=1, items=[item], day=date(2026, 7, 1))
    ref = make_notice("loss_declaration", status="submitted", items=[item], submitter_phone="13912345678").ref
    login(client)
    page = client.get(f"/editor/notices/{ref}").get_data(as_text=True)
    assert "13912345678" in page
    assert "<dt>声明人</dt>" in page
    assert "540102199001011233" in page  # editors see the full number
    assert "居民身份证 540102199001011233 已于2026年7月1日在 YS-20260701-" in page
    assert "提交" in page and "通过并发布" in page


@pytest.mark.parametrize("code", ["supplier_call", "expert_call", "wage_clearance", "loss_declaration"])
def test_review_page_fields_read_as_a_person_wrote_them(client, editor, make_notice, code):
    """No Python reprs, JSON or option codes: choices by name, lines as lines, items as rows."""
    ref = make_notice(code, status="submitted").ref
    login(client)
    page = client.get(f"/editor/notices/{ref}").get_data(as_text=True)
    for leak in ("UnboundField", "\\u", "<pre>", '["', "{&#34;", "[&#34;", "&#39;"):
        assert leak not in page, leak
    data = seed_data(code)
    if code == "supplier_call":
        assert re.search(r"<dt>征集范围</dt>\s*<dd>[^<]*工程", page)
        assert "works" not in page
        first_requirement = data["requirements"].splitlines()[0][:6]
        assert re.search(r'<ol class="field-lines"><li>[^<]*' + re.escape(first_requirement), page)
    if code == "expert_call":
        assert re.search(r"<dt>征集方式</dt>\s*<dd>[^<]*、", page)
        assert "individual" not in page
    if code == "loss_declaration":
        assert "<dt>遗失的证件</dt>" not in page and "<h2>遗失的证件(共 " in page
        for item in data["items"]:
            assert f'<td class="number">{item["document_number"]}</td>' in page


def test_warning_for_a_wage_notice_of_the_same_project(client, editor, make_notice):
    make_notice("wage_clearance", day=date(2026, 7, 10))
    ref = make_notice("wage_clearance", status="submitted", day=date(2026, 7, 20)).ref
    login(client)
    page = client.get(f"/editor/notices/{ref}").get_data(as_text=True)
    assert "同一项目的工资结清公示已于2026年7月10日发布" in page
    other = make_notice("wage_clearance", status="submitted", day=date(2026, 7, 20), project_name="另一个项目").ref
    assert "同一项目" not in client.get(f"/editor/notices/{other}").get_data(as_text=True)


def test_warning_for_a_call_whose_start_has_passed(client, editor, make_notice):
    ref = make_notice("supplier_call", status="submitted", day=date(2024, 3, 8)).ref
    login(client)
    page = client.get(f"/editor/notices/{ref}").get_data(as_text=True)
    assert "征集开始日期 2024年3月8日 已过" in page
    refused = client.post(f"/editor/notices/{ref}/approve", follow_redirects=True).get_data(as_text=True)
    assert "征集开始日期已过" in refused


def test_approve_reject_revoke_through_the_pages(app, client, editor, make_notice):
    today = expiry.board_today(expiry.utcnow())
    to_approve = make_notice("loss_declaration", status="submitted", day=today).ref
    to_reject = make_notice("loss_declaration", index=1, status="submitted", day=today).ref
    login(client)
    client.post(f"/editor/notices/{to_approve}/approve", data={"confirm": "1"})
    assert load(app, to_approve).status == "published"
    assert client.get(f"/notices/{to_approve}").status_code == 200

    empty = client.post(f"/editor/notices/{to_reject}/reject", data={"reason": " "}, follow_redirects=True)
    assert "请填写理由" in empty.get_data(as_text=True)
    assert load(app, to_reject).status == "submitted"
    client.post(f"/editor/notices/{to_reject}/reject", data={"reason": "材料不全"})
    assert load(app, to_reject).reason == "材料不全"

    client.post(f"/editor/notices/{to_approve}/revoke", data={"reason": "重复刊登", "confirm": "1"})
    assert "已撤销:重复刊登" in client.get(f"/notices/{to_approve}").get_data(as_text=True)
    history = client.get(f"/editor/notices/{to_approve}").get_data(as_text=True)
    assert "editor · 通过并发布" in history and "editor · 撤销:重复刊登" in history


@pytest.mark.parametrize(("waited", "said"), [
    (timedelta(seconds=30), "不到 1 分钟"),
    (timedelta(minutes=59, seconds=59), "59 分钟"),
    (timedelta(hours=3, minutes=59), "3 小时"),
    (timedelta(hours=23, minutes=59), "23 小时"),
    (timedelta(days=1), "1 天"),
    (timedelta(days=1, hours=5, minutes=30), "1 天 5 小时"),
    (timedelta(days=2, hours=23), "2 天 23 小时"),
    (timedelta(days=4, hours=23), "4 天"),
    (timedelta(seconds=-5), "不到 1 分钟"),
])
def test_waited_is_said_as_a_person_would(waited, said):
    now = datetime(2026, 7, 10, 1, 30, tzinfo=timezone.utc)
    assert review.waited(now - waited, now) == said


def submitted_before(app, ref, waited):
    """Date ``ref``'s submission back to ``waited`` before now; return that instant."""
    moment = expiry.utcnow() - waited
    with app.app_context():
        db.session.execute(update(Notice).where(Notice.ref == ref).values(submitted_at=moment))
        db.session.commit()
    return moment


def queue_row(page, ref):
    """Return the queue's table row that lists ``ref``."""
    rows = re.findall(r"<tr>.*?</tr>", page, re.S)
    (row,) = [row for row in rows if ref in row]
    return row


LOST_ID = {"owner_name": "", "document_type": "id_card", "document_number": "540102199001011233"}


def test_queue_shows_how_long_each_waited_and_its_warnings_as_flags(app, client, editor, make_notice):
    today = expiry.board_today(expiry.utcnow())
    make_notice("loss_declaration", index=1, items=[LOST_ID], day=today - timedelta(days=9))
    make_notice("wage_clearance", day=today - timedelta(days=5))
    repeat = make_notice("loss_declaration", status="submitted", items=[LOST_ID], day=today).ref
    project = make_notice("wage_clearance", status="submitted", day=today).ref
    late = make_notice("supplier_call", status="submitted", day=date(2024, 3, 8)).ref
    clean = make_notice("expert_call", status="submitted", day=today).ref
    moment = submitted_before(app, repeat, timedelta(days=4, hours=2))
    submitted_before(app, project, timedelta(hours=3, minutes=10))
    submitted_before(app, clean, timedelta(minutes=12))
    login(client)
    page = client.get("/editor/").get_data(as_text=True)

    row = queue_row(page, repeat)
    local = moment.astimezone(expiry.BOARD_TZ)
    assert f'<time datetime="{local.isoformat(timespec="seconds")}"' in row
    assert "等候 4 天</time>" in row
    assert f"{local.year}年{local.month}月{local.day}日 {local:%H:%M} 提交" in row
    assert '<li class="flag"' in row and "证件已声明过</li>" in row
    assert "居民身份证 540102199001011233 已于" in row  # the full warning, in its title
    assert "等候 3 小时</time>" in queue_row(page, project)
    assert "同一项目已公示</li>" in queue_row(page, project)
    assert "开始日期已过</li>" in queue_row(page, late)
    assert "等候 12 分钟</time>" in queue_row(page, clean)
    assert 'class="flag"' not in queue_row(page, clean)
    # Oldest first, as before: the call of 2024 leads.
    assert page.index(late) < page.index(repeat) < page.index(project) < page.index(clean)


def count_queries(app, request):
    """Return how many SQL statements ``request()`` makes the app run."""
    statements = []

    def record(*args):
        statements.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert request().status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_the_queue_asks_the_database_as_often_for_many_submissions_as_for_few(app, client, editor, make_notice):
    today = expiry.board_today(expiry.utcnow())
    make_notice("loss_declaration", index=1, items=[LOST_ID], day=today - timedelta(days=9))
    make_notice("wage_clearance", day=today - timedelta(days=5))

    def submit_some():
        make_notice("loss_declaration", status="submitted", items=[LOST_ID], day=today)
        make_notice("loss_declaration", index=2, status="submitted", day=today)
        make_notice("wage_clearance", status="submitted", day=today)
        make_notice("supplier_call", status="submitted", day=today)

    submit_some()
    login(client)
    few = count_queries(app, lambda: client.get("/editor/"))
    for _ in range(4):
        submit_some()
    many = count_queries(app, lambda: client.get("/editor/"))
    assert "共 20 份待审核" in client.get("/editor/").get_data(as_text=True)
    assert many == few


def test_warnings_on_the_review_page_and_the_queue_are_the_same(client, editor, make_notice):
    """The queue computes them for a page at a time; the review page for one notice: the same
    function, so the same findings."""
    other = {"owner_name": "", "document_type": "police_id", "document_number": "397403"}
    make_notice("loss_declaration", index=2, items=[other], day=date(2026, 7, 3))
    make_notice("loss_declaration", index=1, items=[LOST_ID], day=date(2026, 7, 2))
    make_notice("loss_declaration", index=0, items=[LOST_ID, other], day=date(2026, 7, 1))
    ref = make_notice("loss_declaration", status="submitted", items=[LOST_ID, other]).ref
    login(client)
    review_page = client.get(f"/editor/notices/{ref}").get_data(as_text=True)
    found = re.findall(r'<p class="flash flash-warning" role="alert">⚠ (.*?)</p>', review_page)
    # In the order the items come, each item's earlier declarations oldest first.
    assert [re.sub(r" 中声明作废。$", "", f)[:-5] for f in found] == [
        "居民身份证 540102199001011233 已于2026年7月1日在 YS-20260701-",
        "居民身份证 540102199001011233 已于2026年7月2日在 YS-20260702-",
        "警官证 397403 已于2026年7月1日在 YS-20260701-",
        "警官证 397403 已于2026年7月3日在 YS-20260703-",
    ]
    assert all(text in queue_row(client.get("/editor/").get_data(as_text=True), ref) for text in found)


def test_approving_asks_for_confirmation_and_a_post_without_it_changes_nothing(app, client, editor, make_notice):
    today = expiry.board_today(expiry.utcnow())
    ref = make_notice("loss_declaration", status="submitted", day=today).ref
    login(client)
    review_page = client.get(f"/editor/notices/{ref}").get_data(as_text=True)
    assert re.search(rf'<form method="get" action="/editor/notices/{ref}/approve"', review_page)

    for ask in (lambda: client.get(f"/editor/notices/{ref}/approve"),
                lambda: client.post(f"/editor/notices/{ref}/approve"),
                lambda: client.post(f"/editor/notices/{ref}/approve", data={"confirm": "yes"})):
        response = ask()
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "确认发布?" in page and "<script" not in page
        assert f"公示期:<strong>{cn_date(today)}—{cn_date(today + timedelta(days=30))}</strong>" in page
        assert '<input type="hidden" name="confirm" value="1">' in page
        notice = load(app, ref)
        assert notice.status == "submitted" and notice.published_at is None
    with app.app_context():
        assert [e.action for e in db.session.scalar(db.select(Notice).where(Notice.ref == ref)).events] == ["submit"]

    assert client.post(f"/editor/notices/{ref}/approve", data={"confirm": "1"}).status_code == 302
    assert load(app, ref).status == "published"
    # Published now: no confirm page for it any more, and no second approval.
    again = client.get(f"/editor/notices/{ref}/approve", follow_redirects=True).get_data(as_text=True)
    assert "公告当前状态为“已发布”,不能发布" in again and "确认发布?" not in again


def test_a_call_opening_later_is_confirmed_with_its_own_window(client, editor, make_notice):
    today = expiry.board_today(expiry.utcnow())
    start = today + timedelta(days=5)
    ref = make_notice("supplier_call", status="submitted", day=start).ref
    login(client)
    page = client.get(f"/editor/notices/{ref}/approve").get_data(as_text=True)
    assert f"征集期:<strong>{cn_date(start)}—{cn_date(start + timedelta(days=30))}</strong>" in page
    assert "尚未开始" in page


def test_revoking_asks_for_confirmation_and_a_post_without_it_changes_nothing(app, client, editor, make_notice):
    ref = make_notice("loss_declaration").ref
    login(client)
    unconfirmed = client.post(f"/editor/notices/{ref}/revoke", data={"reason": "  重复刊登 "})
    page = unconfirmed.get_data(as_text=True)
    assert unconfirmed.status_code == 200
    assert "确认撤销?" in page and ">重复刊登</textarea>" in page
    assert '<input type="hidden" name="confirm" value="1">' in page
    assert load(app, ref).status == "published"
    assert client.get(f"/editor/notices/{ref}/revoke").status_code == 200

    for reason in ("", " ", "长" * 1001):
        refused = client.post(f"/editor/notices/{ref}/revoke", data={"reason": reason, "confirm": "1"})
        assert refused.status_code == 422
        text = refused.get_data(as_text=True)
        assert "请填写理由" in text or "理由不能超过1000个字" in text
        assert 'aria-invalid="true"' in text and "<title>错误:" in text
        assert load(app, ref).status == "published"

    done = client.post(f"/editor/notices/{ref}/revoke", data={"reason": "重复刊登", "confirm": "1"})
    assert done.status_code == 302 and done.headers["Location"] == f"/editor/notices/{ref}"
    assert load(app, ref).status == "revoked" and load(app, ref).reason == "重复刊登"
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"({ref}),理由已公开显示。" in text_of(flash_of(after))
    # Revoked: nothing more to confirm, and a second revocation is refused.
    again = client.post(f"/editor/notices/{ref}/revoke", data={"reason": "x", "confirm": "1"}, follow_redirects=True)
    assert "公告当前状态为“已撤销”,不能撤销" in again.get_data(as_text=True)
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        assert [e.action for e in notice.events] == ["submit", "approve", "revoke"]


def test_a_submission_cannot_be_revoked_nor_a_published_one_approved(app, client, editor, make_notice):
    waiting = make_notice("loss_declaration", status="submitted").ref
    published = make_notice("loss_declaration", index=1).ref
    login(client)
    response = client.get(f"/editor/notices/{waiting}/revoke")
    assert response.status_code == 302 and response.headers["Location"] == f"/editor/notices/{waiting}"
    assert "不能撤销" in client.get(response.headers["Location"]).get_data(as_text=True)
    response = client.post(f"/editor/notices/{published}/approve", data={"confirm": "1"})
    assert response.status_code == 302 and response.headers["Location"] == f"/editor/notices/{published}"
    assert load(app, waiting).status == "submitted" and load(app, published).status == "published"
    assert client.get("/editor/notices/YS-20240308-ZZZZZ/approve").status_code == 404
    assert client.get("/editor/notices/YS-20240308-ZZZZZ/revoke").status_code == 404


def flash_of(page):
    """Return the success flash of a page as HTML."""
    (message,) = re.findall(r'<p class="flash flash-success" role="status">(.*?)</p>', page, re.S)
    return message


def text_of(html):
    return re.sub(r"<[^>]+>", "", html)


def test_each_decision_goes_on_to_the_next_in_the_queue_with_a_way_back(app, client, editor, make_notice):
    today = expiry.board_today(expiry.utcnow())
    first, second, third = (
        make_notice("loss_declaration", index=i, status="submitted", day=today).ref for i in range(3)
    )
    for ref, hours in ((first, 3), (second, 2), (third, 1)):
        submitted_before(app, ref, timedelta(hours=hours))
    login(client)

    # The editor starts in the middle: the next is the one after it in the queue's order.
    response = client.post(f"/editor/notices/{second}/approve", data={"confirm": "1"})
    assert response.headers["Location"] == f"/editor/notices/{third}"
    message = flash_of(client.get(response.headers["Location"]).get_data(as_text=True))
    title = kinds.get("loss_declaration").title(load(app, second).fields)
    assert text_of(message).startswith(f"已发布「{title}」({second})。")
    assert f'<a href="/editor/notices/{second}">返回查看</a>' in message
    assert "还有 2 份待审核" in message

    # At the end of the queue it goes round to what is still waiting before.
    response = client.post(f"/editor/notices/{third}/reject", data={"reason": "材料不全"})
    assert response.headers["Location"] == f"/editor/notices/{first}"
    message = flash_of(client.get(response.headers["Location"]).get_data(as_text=True))
    assert f"({third}),理由会显示给提交人。" in text_of(message) and "还有 1 份待审核" in message

    # The last one: back to the queue, which says it is empty, with the way back still there.
    response = client.post(f"/editor/notices/{first}/approve", data={"confirm": "1"})
    assert response.headers["Location"] == "/editor/"
    page = client.get("/editor/").get_data(as_text=True)
    assert f'<a href="/editor/notices/{first}">返回查看</a>' in flash_of(page)
    assert "队列中已没有待审核的提交。" in flash_of(page)
    assert "没有待审核的提交。" in page and "共 0 份待审核" in page
    assert [load(app, ref).status for ref in (first, second, third)] == ["published", "published", "rejected"]


def test_a_refused_decision_stays_on_the_notice(app, client, editor, make_notice):
    ref = make_notice("loss_declaration", status="submitted").ref
    make_notice("loss_declaration", index=1, status="submitted")
    login(client)
    response = client.post(f"/editor/notices/{ref}/reject", data={"reason": " "})
    assert response.headers["Location"] == f"/editor/notices/{ref}"
    assert "请填写理由" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert load(app, ref).status == "submitted"


def test_working_through_one_type_stays_with_that_type(app, client, editor, make_notice):
    today = expiry.board_today(expiry.utcnow())
    loss = make_notice("loss_declaration", status="submitted", day=today).ref
    make_notice("wage_clearance", status="submitted", day=today)
    other_loss = make_notice("loss_declaration", index=1, status="submitted", day=today).ref
    submitted_before(app, loss, timedelta(hours=2))
    login(client)
    queue_page = client.get("/editor/?type=loss_declaration").get_data(as_text=True)
    assert f'href="/editor/notices/{loss}?type=loss_declaration"' in queue_page
    review_page = client.get(f"/editor/notices/{loss}?type=loss_declaration").get_data(as_text=True)
    assert '<input type="hidden" name="type" value="loss_declaration">' in review_page
    confirm_page = client.get(f"/editor/notices/{loss}/approve?type=loss_declaration").get_data(as_text=True)
    assert '<input type="hidden" name="type" value="loss_declaration">' in confirm_page

    response = client.post(f"/editor/notices/{loss}/approve", data={"confirm": "1", "type": "loss_declaration"})
    assert response.headers["Location"] == f"/editor/notices/{other_loss}?type=loss_declaration"
    assert "下面是“遗失声明”中的下一份(还有 1 份待审核)。" in flash_of(
        client.get(response.headers["Location"]).get_data(as_text=True))
    response = client.post(f"/editor/notices/{other_loss}/approve", data={"confirm": "1", "type": "loss_declaration"})
    # No loss declaration left; the wage notice still waits in the whole queue.
    assert response.headers["Location"] == "/editor/?type=loss_declaration"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "“遗失声明”中已没有待审核的提交,全部队列还有 1 份。" in flash_of(page)
    assert "没有待审核的遗失声明。" in page and "共 1 份待审核" in page
    # A type nobody has is ignored: the whole queue.
    response = client.post(f"/editor/notices/{loss}/reject", data={"reason": "x", "type": "tender"})
    assert "tender" not in response.headers["Location"]


def test_the_way_back_names_a_notice_in_its_own_words_and_escapes_them(app, client, editor, make_notice):
    ref = make_notice("loss_declaration", status="submitted", declarant='<b>"卓玛"</b>&').ref
    login(client)
    response = client.post(f"/editor/notices/{ref}/approve", data={"confirm": "1"}, follow_redirects=True)
    message = flash_of(response.get_data(as_text=True))
    assert "<b>" not in message and "&lt;b&gt;" in message


def test_admin_manages_editor_accounts(app, client):
    with app.app_context():
        accounts.create_user("chief", "chief-password-1", role="admin")
    login(client, "chief", "chief-password-1")
    client.post("/editor/users", data={"username": "pema", "role": "editor", "password": "pema-password-1"})
    weak = client.post("/editor/users", data={"username": "dorje", "role": "editor", "password": "short"})
    assert "密码至少10位" in weak.get_data(as_text=True)
    with app.app_context():
        pema = accounts.find("pema")
        assert pema is not None and accounts.find("dorje") is None
        pema_id = pema.id
    other = app.test_client()
    login(other, "pema", "pema-password-1")
    assert other.get("/editor/").status_code == 200
    client.post(f"/editor/users/{pema_id}/active", data={"active": "0"})
    # Disabling the account ends its open session too.
    assert other.get("/editor/").status_code == 302
    client.post(f"/editor/users/{pema_id}/active", data={"active": "1"})
    client.post(f"/editor/users/{pema_id}/password", data={"password": "new-pema-password"})
    assert login(other, "pema", "new-pema-password").status_code == 302


def test_login_is_rate_limited(app, client, editor):
    app.config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    from notices.extensions import limiter

    limiter.init_app(app)
    for _ in range(3):
        login(client, password="wrong-password")
    response = login(client)
    assert response.status_code == 429
    assert "操作太频繁" in response.get_data(as_text=True)


@pytest.fixture
def csrf_app(tmp_path, migrated_db):
    """The app with CSRF protection on, as in production."""

    from conftest import config

    copy_database(migrated_db, tmp_path / "csrf.db")
    app = create_app({**config(tmp_path, tmp_path / "csrf.db"), "WTF_CSRF_ENABLED": True})
    yield app
    with app.app_context():
        db.engine.dispose()


# RFC 8058's one-click unsubscribe is posted by mail programs, with no session: the signed
# token in its address authenticates it (tests/test_alerts.py).
CSRF_EXEMPT = {"/alerts/unsubscribe/<token>"}


def state_changing_routes(app):
    return [
        rule.rule for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and not rule.rule.startswith("/api/")
        and rule.rule not in CSRF_EXEMPT
    ]


def test_every_state_changing_form_route_refuses_a_missing_or_bad_csrf_token(csrf_app):
    client = csrf_app.test_client()
    routes = state_changing_routes(csrf_app)
    assert len(routes) >= 10
    for rule in routes:
        url = re.sub(r"<(?:int:)?\w+>", "1", rule).replace("<code>", "loss_declaration")
        for token in (None, "forged"):
            data = {"csrf_token": token} if token else {}
            response = client.post(url, data=data)
            assert response.status_code == 400, (rule, token)
            assert "页面已过期或来源不明" in response.get_data(as_text=True)


def test_a_valid_csrf_token_is_accepted(csrf_app):
    client = csrf_app.test_client()
    page = client.get("/submit/loss_declaration").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/submit/loss_declaration", data={"csrf_token": token, "declarant": ""})
    assert response.status_code == 422  # past CSRF, refused on its fields


def test_the_api_needs_no_csrf_token(csrf_app):
    response = csrf_app.test_client().post("/api/v1/submissions", json={"type": "tender"})
    assert response.status_code == 422


def test_an_editor_page_nobody_protected_is_closed_all_the_same(app, client, editor):
    """Deny by default: a page added under the editor blueprint needs a login without a decorator."""
    app.add_url_rule("/editor/unlisted", endpoint="editor.unlisted", view_func=lambda: "inside")
    response = client.get("/editor/unlisted")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/editor/login")
    login(client)
    assert client.get("/editor/unlisted").get_data(as_text=True) == "inside"


def test_login_starts_a_new_session(csrf_app):
    """What a session held before login, a planted one included, is gone after it: a new CSRF
    secret, so a form token fetched before login is refused, and nothing else carried over."""
    with csrf_app.app_context():
        accounts.create_user("editor", EDITOR_PASSWORD, role="editor")
    client = csrf_app.test_client()
    page = client.get("/editor/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        before = session["csrf_token"]
    captured = client.get_cookie("session").value
    response = client.post("/editor/login", data={
        "csrf_token": token, "username": "editor", "password": EDITOR_PASSWORD,
    })
    assert response.status_code == 302
    assert client.get("/editor/").status_code == 200
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") not in (None, before)
    # The token handed out before login no longer passes, so it cannot act for the editor.
    assert client.post("/editor/logout", data={"csrf_token": token}).status_code == 400
    assert client.get("/editor/").status_code == 200
    # The cookie from before login is still nobody's.
    replayed = csrf_app.test_client()
    replayed.set_cookie("session", captured)
    assert replayed.get("/editor/").status_code == 302


def test_the_confirm_pages_carry_a_working_csrf_token(csrf_app):
    """With CSRF on, as in production: the confirm step's own form publishes and revokes, and
    its confirm field without the token does nothing."""
    with csrf_app.app_context():
        accounts.create_user("editor", EDITOR_PASSWORD, role="editor")
        kind = kinds.get("loss_declaration")
        notice, _ = services.submit(kind, services.flatten(seed_data("loss_declaration")), now=expiry.utcnow())
        ref = notice.ref
    client = csrf_app.test_client()
    page = client.get("/editor/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    client.post("/editor/login", data={"csrf_token": token, "username": "editor", "password": EDITOR_PASSWORD})

    assert client.post(f"/editor/notices/{ref}/approve", data={"confirm": "1"}).status_code == 400
    assert load(csrf_app, ref).status == "submitted"
    confirm = client.get(f"/editor/notices/{ref}/approve").get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', confirm))
    assert set(fields) == {"csrf_token", "confirm"}
    assert client.post(f"/editor/notices/{ref}/approve", data=fields).status_code == 302
    assert load(csrf_app, ref).status == "published"

    confirm = client.post(f"/editor/notices/{ref}/revoke", data={"csrf_token": fields["csrf_token"], "reason": "重复刊登"})
    assert confirm.status_code == 200 and load(csrf_app, ref).status == "published"
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', confirm.get_data(as_text=True)))
    response = client.post(f"/editor/notices/{ref}/revoke", data={**fields, "reason": "重复刊登"})
    assert response.status_code == 302
    assert load(csrf_app, ref).status == "revoked"
