"""The Atom feeds, read back by feedparser as a feed reader reads them."""
import re
from datetime import timedelta

import feedparser
import pytest
from conftest import PUBLIC_URL

from notices import expiry

ID_NUMBER = "540102199001011233"


@pytest.fixture
def today():
    return expiry.board_today(expiry.utcnow())


def read(client, url, **headers):
    """GET the feed at ``url``; return the response and the feed as feedparser reads it."""
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.get_data())
    # bozo is feedparser's flag for a document that is not well-formed Atom.
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "atom10"
    return response, parsed


def titles(parsed):
    return [entry.title for entry in parsed.entries]


def test_the_board_feed_carries_each_active_notice_as_printed(client, make_notice, today):
    call = make_notice("supplier_call", day=today)
    loss = make_notice("loss_declaration", day=today, items=[
        {"owner_name": "", "document_type": "id_card", "document_number": ID_NUMBER},
    ])
    make_notice("wage_clearance", day=today - timedelta(days=40))  # expired
    make_notice("expert_call", day=today, status="submitted")  # not published
    _, parsed = read(client, "/feeds/notices.atom")
    assert parsed.feed.title == "公告栏 · 正在公示的公告"
    assert parsed.feed.language == "zh-CN"
    assert [link.href for link in parsed.feed.links] == [
        f"{PUBLIC_URL}/feeds/notices.atom", f"{PUBLIC_URL}/",
    ]
    assert sorted(titles(parsed)) == sorted([
        "西藏开发投资集团有限公司 非招标采购供应商入库征集公告", "扎西央珍 遗失声明",
    ])
    by_ref = {entry.link.rsplit("/", 1)[1]: entry for entry in parsed.entries}
    entry = by_ref[loss.ref]
    assert entry.id == entry.link == f"{PUBLIC_URL}/notices/{loss.ref}"
    assert "将居民身份证(身份证号:5401*************3)丢失,声明作废。" in entry.content[0].value
    assert ID_NUMBER not in entry.content[0].value
    # Publication time with the board's offset; the window's end in words.
    assert entry.published.endswith("+08:00")
    assert expiry.board_today(loss.published_at).isoformat() == entry.published[:10]
    window_end = loss.window_end
    assert f"公示期:{today.year}年{today.month}月{today.day}日至" in entry.content[0].value
    assert f"{window_end.year}年{window_end.month}月{window_end.day}日" in entry.content[0].value
    assert by_ref[call.ref].tags[0].term == "supplier_call"


def test_a_type_feed_holds_that_type_only(client, make_notice, today):
    make_notice("wage_clearance", day=today)
    make_notice("loss_declaration", day=today)
    _, parsed = read(client, "/feeds/types/wage_clearance.atom")
    assert titles(parsed) == ["西藏星灿建设工程有限公司 民工工资结清公示"]
    assert parsed.feed.links[1].href == f"{PUBLIC_URL}/types/wage_clearance"
    assert client.get("/feeds/types/no_such_type.atom").status_code == 404


def test_a_revocation_is_an_update_of_its_entry(client, make_notice, today):
    revoked = make_notice("loss_declaration", day=today, status="revoked")
    _, parsed = read(client, "/feeds/types/loss_declaration.atom")
    (entry,) = parsed.entries
    assert entry.id == f"{PUBLIC_URL}/notices/{revoked.ref}"
    assert entry.title == "【已撤销】扎西央珍 遗失声明"
    assert entry.updated > entry.published
    assert "撤销原因:提交人申请撤销" in entry.content[0].value


def test_a_search_feed_takes_the_search_pages_arguments(client, make_notice, today):
    make_notice("supplier_call", day=today)
    make_notice("loss_declaration", day=today)
    make_notice("loss_declaration", index=2, day=today - timedelta(days=5), status="revoked")
    _, parsed = read(client, "/feeds/search.atom?q=%E4%B8%8D%E6%85%8E")  # 不慎
    assert sorted(titles(parsed)) == ["【已撤销】索朗仁青 遗失声明", "扎西央珍 遗失声明"]
    assert parsed.feed.title == "“不慎”的搜索结果 · 公告栏"
    assert parsed.feed.links[1].href == f"{PUBLIC_URL}/search?q=%E4%B8%8D%E6%85%8E&status=active"
    by_issuer = "/feeds/search.atom?issuer=%E8%A5%BF%E8%97%8F%E5%BC%80%E5%8F%91%E6%8A%95%E8%B5%84" \
        "%E9%9B%86%E5%9B%A2%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8"  # 西藏开发投资集团有限公司
    _, parsed = read(client, by_issuer)
    assert titles(parsed) == ["西藏开发投资集团有限公司 非招标采购供应商入库征集公告"]


@pytest.mark.parametrize("query", ["", "?type=supplier_call", "?q=x&date_from=2024-13-01",
                                   "?q=x&status=everything"])
def test_a_search_feed_refuses_what_the_search_page_refuses(client, query):
    response = client.get(f"/feeds/search.atom{query}")
    assert response.status_code == 400
    assert "搜索" in response.get_data(as_text=True)


def test_a_feed_answers_a_repeat_request_with_304_until_it_changes(client, make_notice, today):
    make_notice("loss_declaration", day=today)
    first, _ = read(client, "/feeds/notices.atom")
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = client.get("/feeds/notices.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    since = client.get("/feeds/notices.atom",
                       headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    make_notice("wage_clearance", day=today)
    changed = client.get("/feeds/notices.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert "民工工资结清公示" in changed.get_data(as_text=True)


def test_a_feed_names_the_boards_address_whatever_host_is_asked(client, make_notice, today):
    make_notice("loss_declaration", day=today)
    response = client.get("/feeds/notices.atom", headers={
        "Host": "evil.example", "X-Forwarded-Host": "evil.example",
    })
    assert "evil.example" not in response.get_data(as_text=True)


def feeds_linked(html):
    """Return the feeds a page names in its head and the ones it shows, as (title, href)."""
    head = re.findall(r'<link rel="alternate" type="application/atom\+xml" title="([^"]*)" '
                      r'href="([^"]*)">', html)
    shown = re.findall(r'<a href="([^"]*)" type="application/atom\+xml">', html)
    return head, shown


@pytest.mark.parametrize(("path", "expected"), [
    ("/", ["/feeds/notices.atom"]),
    ("/types/wage_clearance", ["/feeds/types/wage_clearance.atom"]),
    ("/search?q=%E5%B7%A5%E7%A8%8B&type=wage_clearance&date_from=2024-01-01&page=1",
     ["/feeds/search.atom?q=%E5%B7%A5%E7%A8%8B&type=wage_clearance&status=active"
      "&date_from=2024-01-01"]),
])
def test_pages_with_a_feed_link_it_in_their_head_and_visibly(client, make_notice, today, path,
                                                              expected):
    make_notice("wage_clearance", day=today)
    head, shown = feeds_linked(client.get(path).get_data(as_text=True))
    assert [href.replace("&amp;", "&") for _, href in head] == expected
    assert [href.replace("&amp;", "&") for href in shown] == expected
    for href in expected:
        read(client, href)


def test_a_notice_page_links_its_type_and_its_issuers_feed(client, make_notice, today):
    wage = make_notice("wage_clearance", day=today)
    head, _ = feeds_linked(client.get(f"/notices/{wage.ref}").get_data(as_text=True))
    assert [title for title, _ in head] == ["民工工资结清公示", "西藏星灿建设工程有限公司发布的公告"]
    _, parsed = read(client, head[1][1].replace("&amp;", "&"))
    assert [entry.link for entry in parsed.entries] == [f"{PUBLIC_URL}/notices/{wage.ref}"]
    loss = make_notice("loss_declaration", day=today)
    head, _ = feeds_linked(client.get(f"/notices/{loss.ref}").get_data(as_text=True))
    assert [title for title, _ in head] == ["遗失声明"]


def test_a_search_by_document_number_has_no_feed(client, make_notice, today):
    """A number in a feed's address would be kept by every reader and proxy, and polled past
    the lookups' limits: the search page offers no feed and the feed refuses it."""
    make_notice("loss_declaration", day=today, items=[
        {"owner_name": "", "document_type": "id_card", "document_number": ID_NUMBER},
    ])
    head, shown = feeds_linked(client.get(f"/search?q={ID_NUMBER}").get_data(as_text=True))
    assert head == [] and shown == []
    refused = client.get(f"/feeds/search.atom?q={ID_NUMBER}")
    assert refused.status_code == 400
    assert "证件挂失查询" in refused.get_data(as_text=True)
