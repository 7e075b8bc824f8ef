import json
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from conftest import PUBLIC_URL
from jinja2 import ChoiceLoader
from jinja2 import DictLoader

from notices import expiry

SHANGHAI = ZoneInfo("Asia/Shanghai")
ID_NUMBER = "540102199001011233"


@pytest.fixture
def today():
    return expiry.board_today(expiry.utcnow())


def text(response):
    return response.get_data(as_text=True)


def test_front_page_groups_active_notices_by_type_in_column_order(client, make_notice, today):
    make_notice("loss_declaration", day=today)
    make_notice("wage_clearance", day=today)
    make_notice("supplier_call", day=today)
    page = text(client.get("/"))
    headings = ["非招标采购供应商入库征集公告", "评标专家库专家征集公告", "民工工资结清公示", "遗失声明"]
    positions = [page.index(f'<h2 class="column-title">{h}') for h in headings]
    assert positions == sorted(positions)
    assert "西藏开发投资集团有限公司 非招标采购供应商入库征集公告" in page
    assert "扎西央珍不慎,将巴登曲加的出生医学证明(编号:T540059774)丢失,声明作废。" in page
    assert "目前没有正在公示的评标专家库专家征集公告" in page


def test_front_page_leaves_out_pending_rejected_and_expired(client, make_notice, today):
    make_notice("loss_declaration", index=0, status="submitted", day=today)
    make_notice("loss_declaration", index=1, status="rejected", day=today)
    make_notice("loss_declaration", index=2, day=date(2024, 1, 1))
    make_notice("loss_declaration", index=3, status="revoked", day=today)
    make_notice("loss_declaration", index=4, day=today)
    page = text(client.get("/"))
    assert "扎西央珍" not in page and "达娃曲珍" not in page
    assert "索朗仁青" not in page and "朗杰不慎" not in page
    assert "景钦伟不慎" in page


def test_type_page_lists_only_its_type(client, make_notice, today):
    make_notice("wage_clearance", day=today)
    make_notice("loss_declaration", day=today)
    page = text(client.get("/types/wage_clearance"))
    assert "西藏星灿建设工程有限公司 民工工资结清公示" in page
    assert "扎西央珍" not in page
    assert client.get("/types/no_such_type").status_code == 404


def test_type_page_paginates(app, client, make_notice, today):
    app.config["PER_PAGE"] = 2
    for i in range(5):
        make_notice("loss_declaration", index=i, day=today)
    first, last = text(client.get("/types/loss_declaration")), text(client.get("/types/loss_declaration?page=3"))
    assert "第 1 / 3 页,共 5 则" in first
    assert first.count('class="loss-line"') == 2 and last.count('class="loss-line"') == 1
    assert client.get("/types/loss_declaration?page=x").status_code == 200


def test_permalink_shows_text_status_and_window(client, make_notice, today):
    ref = make_notice("supplier_call", day=today).ref
    page = text(client.get(f"/notices/{ref}"))
    assert "征集截止还有 30 天" in page
    assert '<h2 class="section-title">一、征集时间</h2>' in page
    assert '<a href="http://www.xzkt.com/" rel="nofollow noopener">http://www.xzkt.com/</a>' in page
    assert ref in page


def test_permalink_of_an_expired_call(client, make_notice):
    ref = make_notice("supplier_call", day=date(2024, 3, 8)).ref
    page = text(client.get(f"/notices/{ref}"))
    assert "已过期(征集期已于2024年4月7日结束)" in page
    assert "2024年3月8日—2024年4月7日" in page


def test_permalink_of_a_revoked_notice_shows_the_reason(client, make_notice, today):
    ref = make_notice("wage_clearance", status="revoked", day=today).ref
    assert "已撤销:提交人申请撤销" in text(client.get(f"/notices/{ref}"))


def test_wage_notice_shows_its_objection_period(client, make_notice, today):
    ref = make_notice("wage_clearance", day=today).ref
    end = expiry.window_end(today, 30)
    page = text(client.get(f"/notices/{ref}"))
    assert "异议期还剩 30 天" in page
    assert f"{today.year}年{today.month}月{today.day}日</span>—<span class=\"nowrap\">{end.year}年{end.month}月{end.day}日" in page


@pytest.mark.parametrize("status", ["submitted", "rejected", "withdrawn"])
def test_unpublished_notices_are_not_found(client, make_notice, status):
    ref = make_notice("loss_declaration", status=status).ref
    response = client.get(f"/notices/{ref}")
    assert response.status_code == 404
    assert "找不到这个页面或公告" in text(response)


def test_id_numbers_are_masked_on_every_public_page(client, make_notice, today):
    ref = make_notice(
        "loss_declaration",
        day=today,
        items=[{"owner_name": "", "document_type": "id_card", "document_number": ID_NUMBER}],
    ).ref
    pages = ["/", "/types/loss_declaration", f"/notices/{ref}", f"/api/v1/notices/{ref}",
             "/api/v1/notices?type=loss_declaration", f"/api/v1/lost-documents?number={ID_NUMBER}"]
    for url in pages:
        body = text(client.get(url))
        assert ID_NUMBER not in body, url
    assert "5401*************3" in text(client.get(f"/notices/{ref}"))
    assert "扎西央珍不慎,将居民身份证(身份证号:5401*************3)丢失,声明作废。" in text(client.get("/"))


def test_id_numbers_typed_anywhere_are_masked_in_every_public_string(client, make_notice, today):
    """A driving licence entered as "other document", or an ID number typed into a name: the
    wording, the title, the API, search results and the lookup never show it whole."""
    other_id = "11010519491231002X"
    ref = make_notice(
        "loss_declaration",
        day=today,
        declarant=f"扎西央珍{ID_NUMBER}",
        items=[
            {"owner_name": f"巴登{other_id}", "document_type": "other",
             "document_type_other": "机动车驾驶证", "document_number": other_id},
        ],
    ).ref
    wage = make_notice("wage_clearance", day=today, project_name=f"拉萨{ID_NUMBER}项目").ref
    pages = [
        "/", "/types/loss_declaration", "/types/wage_clearance", f"/notices/{ref}",
        f"/notices/{wage}", f"/api/v1/notices/{ref}", f"/api/v1/notices/{wage}", "/api/v1/notices",
        "/search?q=扎西央珍", "/search?q=拉萨", "/api/v1/notices?q=扎西央珍",
        f"/api/v1/lost-documents?number={other_id}", f"/lost?number={other_id}",
    ]
    for url in pages:
        response = client.get(url)
        body = json.dumps(response.get_json(), ensure_ascii=False) if response.is_json else text(response)
        body = body.replace(f'value="{other_id}"', "")
        assert ID_NUMBER not in body and other_id not in body, url
        assert ID_NUMBER.lower() not in body.lower() and other_id.lower() not in body.lower(), url
    notice = client.get(f"/api/v1/notices/{ref}").get_json()
    assert notice["title"] == "扎西央珍5401*************3 遗失声明"
    assert "将巴登1101*************X的机动车驾驶证(编号:1101*************X)丢失" in notice["text"]
    assert "拉萨5401*************3项目" in client.get(f"/api/v1/notices/{wage}").get_json()["text"]
    lost = client.get(f"/api/v1/lost-documents?number={other_id}").get_json()["items"]
    assert [(i["owner_name"], i["declarant"]) for i in lost] == [
        ("巴登1101*************X", "扎西央珍5401*************3")
    ]


def test_submitter_contacts_never_reach_public_pages(client, make_notice, today):
    ref = make_notice("loss_declaration", day=today, submitter_phone="13912345678",
                      submitter_email="private@example.com").ref
    for url in ["/", f"/notices/{ref}", f"/api/v1/notices/{ref}"]:
        body = text(client.get(url))
        assert "13912345678" not in body and "private@example.com" not in body


def test_archive_by_type_and_month(client, make_notice):
    make_notice("supplier_call", day=date(2024, 3, 8))
    make_notice("loss_declaration", day=date(2026, 7, 10))
    make_notice("loss_declaration", index=1, day=date(2026, 6, 2))
    page = text(client.get("/archive"))
    assert "2026年7月" in page and "2026年6月" in page and "2024年3月" in page
    july = text(client.get("/archive?month=2026-07"))
    assert "扎西央珍" in july and "达娃曲珍" not in july and "供应商入库" not in july.split("<main")[1].split("按类型")[1]
    calls = text(client.get("/archive?type=supplier_call"))
    assert "西藏开发投资集团有限公司 非招标采购供应商入库征集公告" in calls and "扎西央珍" not in calls


def test_archive_includes_revoked_but_not_active(client, make_notice, today):
    make_notice("loss_declaration", index=0, day=today, status="revoked")
    make_notice("loss_declaration", index=1, day=today)
    page = text(client.get("/archive"))
    assert "扎西央珍" in page and "已撤销:提交人申请撤销" in page
    assert "达娃曲珍" not in page


@pytest.mark.parametrize("month", ["2024-13", "march", "2024-3-1"])
def test_archive_refuses_a_bad_month_politely(client, month):
    response = client.get(f"/archive?month={month}")
    assert response.status_code == 400
    assert "月份格式应为" in text(response)


@pytest.mark.parametrize(
    ("instant", "shown", "on_front_page"),
    [
        # A server in New York (time-machine sets TZ too): Lhasa's last minute of the window.
        (datetime(2024, 4, 7, 23, 59, tzinfo=SHANGHAI), "征集今天截止", True),
        (datetime(2024, 4, 8, 0, 0, tzinfo=SHANGHAI), "已过期", False),
    ],
)
def test_window_boundary_on_the_pages_with_a_server_in_another_zone(client, make_notice, instant, shown, on_front_page):
    ref = make_notice("supplier_call", day=date(2024, 3, 8)).ref
    new_york = instant.astimezone(ZoneInfo("America/New_York"))
    with time_machine.travel(new_york, tick=False):
        assert datetime.now().hour == new_york.hour  # the server's own zone is New York's
        assert shown in text(client.get(f"/notices/{ref}"))
        # The call's card (every page's menu links the type's page by the same name).
        card = "西藏开发投资集团有限公司 非招标采购供应商入库征集公告</a>"
        assert (card in text(client.get("/"))) is on_front_page
        assert (ref in text(client.get("/archive"))) is not on_front_page


def test_pages_send_security_headers(client):
    for url in ["/", "/archive", "/notices/none"]:
        response = client.get(url)
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_fields_are_escaped(client, make_notice, today):
    ref = make_notice("wage_clearance", day=today, project_name="<script>alert(1)</script>工程").ref
    page = text(client.get(f"/notices/{ref}"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;工程" in page



def test_a_crafted_script_name_cannot_poison_the_cached_permalink(client, make_notice, today):
    """A SCRIPT_NAME the board was not configured with is read as part of the path: the crafted
    request finds nothing, and the page every other reader is served links only to the board."""
    ref = make_notice("loss_declaration", day=today).ref
    crafted = client.get(f"/notices/{ref}", headers={"Host": "evil.example"},
                         environ_overrides={"SCRIPT_NAME": "//evil.example"})
    readers = [client.get(f"/notices/{ref}") for _ in range(2)]
    for reader in readers:
        assert reader.status_code == 200
        assert "evil.example" not in text(reader)
        assert 'href="/static/board.css"' in text(reader)
    assert crafted.status_code == 404
    assert "evil.example" not in text(crafted)


def test_the_cached_permalink_holds_nothing_of_the_request_that_filled_it(app, client, make_notice,
                                                                          today):
    """Whatever a template reads of the request, the page kept for every reader was rendered at
    the configured address, not at the host, scheme or root of whoever asked first."""
    probe = "{{ request.host_url }}|{{ request.script_root }}|{{ url_for('public.index') }}"
    app.jinja_env.loader = ChoiceLoader([DictLoader({"public/notice.html": probe}),
                                         app.jinja_env.loader])
    ref = make_notice("loss_declaration", day=today).ref
    first = client.get(f"/notices/{ref}", base_url="http://evil.example",
                       headers={"X-Forwarded-Host": "evil.example"})
    reader = client.get(f"/notices/{ref}")
    assert text(first) == text(reader) == f"{PUBLIC_URL}/||/"


# Pages a listing never has when it has one page of notices: the next, one past SQLite's
# 64-bit OFFSET, and one past Python's C integers.
BEYOND_THE_LAST = ["2", "99999999999999999999", str(2**64 * 21)]
# What a page parameter may hold that still means the first page.
FIRST_PAGE = ["1", "0", "-5", "x", "²", ""]
LISTINGS = ["/types/loss_declaration", "/archive", "/archive?type=loss_declaration",
            "/search?q=扎西央珍&status=all", "/search?issuer=扎西央珍&status=all&sort=date"]


@pytest.mark.parametrize("listing", LISTINGS)
def test_a_page_beyond_the_last_is_not_found_and_below_the_first_is_the_first(
        client, make_notice, today, listing):
    make_notice("loss_declaration", day=today)
    make_notice("loss_declaration", day=date(2024, 1, 8))
    joined = "&" if "?" in listing else "?"
    for page in BEYOND_THE_LAST:
        response = client.get(f"{listing}{joined}page={page}")
        assert response.status_code == 404, page
        assert "找不到这个页面或公告" in text(response)
    for page in FIRST_PAGE:
        response = client.get(f"{listing}{joined}page={page}")
        assert response.status_code == 200, page
        assert "扎西央珍" in text(response), page


def test_an_empty_listing_has_its_first_page(client):
    for listing in ("/types/expert_call", "/archive", "/search?q=不存在的公告"):
        assert client.get(listing).status_code == 200, listing
        assert client.get(f"{listing}{'&' if '?' in listing else '?'}page=2").status_code == 404
