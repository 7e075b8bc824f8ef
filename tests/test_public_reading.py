"""What a citizen reads on the public pages, with a phone in hand: a search box and a skip link
on every page, tel: links for phone numbers (and never for document numbers), the days left of
every type, what a lookup miss means, breadcrumbs, headings in order, full labels, and the
print view of a notice with its address, QR code, reference and date."""
import re
from datetime import date
from datetime import datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import segno
import time_machine
from conftest import PUBLIC_URL

from notices import expiry
from notices import kinds
from notices.wording import cn_date

SHANGHAI = ZoneInfo("Asia/Shanghai")
CSS = Path(__file__).parent.parent / "static" / "board.css"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Element:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag=None, **attrs):
        return [
            e for e in self.iter()
            if (tag is None or e.tag == tag)
            and all(e.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
        ]

    def find(self, tag=None, **attrs):
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}>"
        return found[0]

    def classes(self):
        return (self.attrs.get("class") or "").split()


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("#document", {})

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(response):
    assert response.status_code == 200, response.status_code
    builder = _Builder()
    builder.feed(response.get_data(as_text=True))
    return builder.root


def by_class(tree, name):
    return [e for e in tree.iter() if name in e.classes()]


@pytest.fixture
def today():
    return expiry.board_today(expiry.utcnow())


@pytest.fixture
def every_type(make_notice, today):
    """{type code: ref} of one published notice of each type, published today."""
    return {code: make_notice(code, day=today).ref for code in kinds.KINDS}


def tel_links(tree):
    return [a.attrs["href"] for a in tree.find_all("a") if a.attrs.get("href", "").startswith("tel:")]


def notice_text(tree):
    return by_class(tree, "notice-text")[0]


# --- Phone numbers ------------------------------------------------------------------------


def test_phone_numbers_in_every_notice_page_and_card_are_tel_links(client, every_type):
    expected = {
        "supplier_call": ["tel:13889099800"],
        "expert_call": ["tel:13889099800"],
        "wage_clearance": ["tel:15726789992"],
        "loss_declaration": [],
    }
    for code, ref in every_type.items():
        assert tel_links(notice_text(parse(client.get(f"/notices/{ref}")))) == expected[code], code
    # The wage notice's card tells objectors whom to call.
    for url in ["/", "/types/wage_clearance"]:
        assert "tel:15726789992" in tel_links(parse(client.get(url))), url


def test_the_wording_stays_the_words_of_the_notice_around_its_links(client, every_type):
    """Links are added around numbers and addresses; what a reader sees, tags aside, is the
    canonical wording the API gives, block for block."""
    for ref in every_type.values():
        lines = client.get(f"/api/v1/notices/{ref}").get_json()["text"].split("\n")
        page = parse(client.get(f"/notices/{ref}"))
        blocks = [e.text() for e in notice_text(page).children if isinstance(e, Element)]
        if not by_class(page, "printed-title"):
            # A call's printed title is its page's title.
            blocks.insert(0, page.find("h1").text())
        assert blocks == lines, ref


def test_document_numbers_ids_references_and_dates_in_a_notice_are_not_dialled(client,
                                                                                make_notice,
                                                                                today):
    participation = (
        "咨询电话 0891-6323333-801。资质证书编号 T540059774,统一社会信用代码 91540000710910556X,"
        "法定代表人身份证号 540102199001011233,参考编号 GY-20240308-ABCDE,"
        "截止 2024-03-08,即20240308。"
    )
    call = make_notice("supplier_call", day=today, participation=participation).ref
    loss = make_notice(
        "loss_declaration", day=today,
        items=[{"owner_name": "", "document_type": "other", "document_type_other": "道路运输证",
                "document_number": "13889099800"}],
    ).ref
    page = parse(client.get(f"/notices/{call}"))
    assert tel_links(notice_text(page)) == ["tel:08916323333,801", "tel:13889099800"]
    assert "5401*************3" in notice_text(page).text()
    # A loss declaration's wording is document numbers: a number shaped like a mobile's is one.
    page = parse(client.get(f"/notices/{loss}"))
    assert "道路运输证(编号:13889099800)丢失" in notice_text(page).text()
    assert tel_links(page) == []


# --- Days left ----------------------------------------------------------------------------

LEFT = {
    "supplier_call": "征集截止还有 {n} 天",
    "expert_call": "征集截止还有 {n} 天",
    "wage_clearance": "异议期还剩 {n} 天",
    "loss_declaration": "公示期还剩 {n} 天",
}
LAST_DAY = {
    "supplier_call": "征集今天截止",
    "expert_call": "征集今天截止",
    "wage_clearance": "异议期今天结束",
    "loss_declaration": "公示期今天结束",
}


@pytest.mark.parametrize(
    ("instant", "lines", "n"),
    [
        # 00:30 in Lhasa is still the day before in UTC (and in New York): counted in Shanghai.
        (datetime(2024, 3, 20, 0, 30, tzinfo=SHANGHAI), LEFT, 18),
        (datetime(2024, 4, 6, 23, 59, tzinfo=SHANGHAI), LEFT, 1),
        (datetime(2024, 4, 7, 0, 0, tzinfo=SHANGHAI), LAST_DAY, 0),
    ],
)
def test_every_type_shows_the_days_left_on_its_page_and_cards(client, make_notice, instant, lines,
                                                              n):
    refs = {code: make_notice(code, day=date(2024, 3, 8)).ref for code in kinds.KINDS}
    with time_machine.travel(instant.astimezone(ZoneInfo("America/New_York")), tick=False):
        front = parse(client.get("/"))
        for code, ref in refs.items():
            line = lines[code].format(n=n)
            page = parse(client.get(f"/notices/{ref}"))
            assert by_class(page, "notice-status")[0].text() == line, code
            listing = parse(client.get(f"/types/{code}"))
            for tree in (front, listing):
                assert line in [s.text() for s in by_class(tree, "status")], code


# --- The lookup ---------------------------------------------------------------------------


def test_a_lookup_miss_says_what_it_does_and_does_not_mean(client, make_notice, today):
    make_notice("loss_declaration", day=today)
    page = parse(client.get("/lost?number=T540059775"))
    miss = by_class(page, "lookup-miss")[0]
    said = re.sub(r"\s+", "", miss.text())
    assert miss.find("h2").text() == "没有查到号码为 T540059775 的遗失声明"
    assert "只说明本站没有与这个号码相符的遗失声明" in said
    assert "不能证明这份证件有效、没有丢失或没有被声明作废" in said
    assert "请向发证机关核实" in said
    found = parse(client.get("/lost?number=T540059774"))
    assert by_class(found, "lookup-miss") == []


# --- Navigation, breadcrumbs, headings, labels --------------------------------------------


def test_every_public_page_has_a_skip_link_to_main_and_the_phone_menu(client, every_type):
    for url in ["/", "/types/expert_call", "/archive", "/search", "/lost",
                f"/notices/{every_type['wage_clearance']}"]:
        tree = parse(client.get(url))
        first_link = tree.find("body").find("a")
        assert (first_link.text(), first_link.attrs["href"]) == ("跳到正文", "#main"), url
        main = tree.find("main")
        assert main.attrs["id"] == "main" and main.attrs["tabindex"] == "-1", url
        menu = tree.find("nav", aria_label="栏目").find("details")
        assert menu.find("summary").text() == "菜单"
        links = {a.text(): a.attrs["href"] for a in menu.find_all("a")}
        assert links["首页"] == "/" and links["提交公告"] == "/submit"
        assert all(f"/types/{code}" in links.values() for code in kinds.KINDS)


def test_the_front_page_has_a_search_box(client):
    form = parse(client.get("/")).find("form", role="search")
    assert form.attrs["action"] == "/search" and form.attrs["method"] == "get"
    box = form.find("input", name="q")
    assert form.find("label", for_=box.attrs["id"]).text() == "搜索公告"


def test_notice_pages_have_breadcrumbs(client, every_type):
    for code, ref in every_type.items():
        crumbs = parse(client.get(f"/notices/{ref}")).find("nav", aria_label="面包屑")
        items = crumbs.find("ol").find_all("li")
        assert [li.text().strip() for li in items] == ["首页", kinds.get(code).short_name, ref]
        assert [a.attrs["href"] for a in crumbs.find_all("a")] == ["/", f"/types/{code}"]
        assert items[-1].find(aria_current="page").text() == ref


def headings(tree):
    return [(int(e.tag[1]), e.text().strip()) for e in tree.iter() if re.fullmatch(r"h[1-6]", e.tag)]


def test_headings_are_in_order_on_every_public_page(client, every_type, make_notice, today):
    make_notice("loss_declaration", index=1, day=date(2024, 1, 8))
    make_notice("supplier_call", day=date(2024, 1, 8))
    urls = ["/", "/archive", "/archive?type=supplier_call", "/search", "/search?q=西藏",
            "/search?q=不存在的公告", "/lost", "/lost?number=T540059774",
            "/lost?number=T540059775", "/notices/none", "/no/such/page"]
    urls += [f"/types/{code}" for code in kinds.KINDS]
    urls += [f"/notices/{ref}" for ref in every_type.values()]
    for url in urls:
        response = client.get(url)
        if response.status_code == 404:
            response.status_code = 200  # the error page is a page people read too
        levels = headings(parse(response))
        assert levels and levels[0][0] == 1, url
        for (before, _), (level, name) in zip(levels, levels[1:]):
            assert level <= before + 1, f"{url}: h{before} then h{level} {name}"


def test_every_search_filter_has_a_full_label(client):
    form = parse(client.get("/search?q=西藏&status=all")).find("form", role="search")
    labels = {label.attrs["for"]: label.text().strip() for label in form.find_all("label")}
    controls = form.find_all("input") + form.find_all("select")
    assert len(controls) == 7
    for control in controls:
        assert control.attrs["id"] in labels, control.attrs
    # Each says what its field is on its own: not 到, 类型 or 范围 next to something else.
    assert labels == {
        "q": "关键词", "type": "公告类型", "status": "搜索范围", "date_from": "发布日期从",
        "date_to": "发布日期到", "issuer": "发布者", "sort": "排序方式",
    }


def test_text_is_sized_in_rem_so_a_larger_default_font_applies():
    css = CSS.read_text(encoding="utf-8")
    assert re.findall(r"font(?:-size)?\s*:[^;}]*\d(?:px|pt)\b", css.split("@media print")[0]) == []
    assert re.search(r"body \{[^}]*font: 1rem/", css)


# --- The print view -----------------------------------------------------------------------


def proof(tree):
    footer = by_class(tree, "notice-proof")[0]
    lines = {
        div.find("dt").text(): div.find("dd").text() for div in footer.find("dl").find_all("div")
    }
    return footer, lines


@pytest.mark.parametrize("code", list(kinds.KINDS))
def test_a_notice_page_carries_what_its_printed_copy_needs(client, every_type, today, code):
    ref = every_type[code]
    tree = parse(client.get(f"/notices/{ref}"))
    footer, lines = proof(tree)
    address = f"{PUBLIC_URL}/notices/{ref}"
    assert lines == {"本页永久地址": address, "编号": ref, "本页生成日期": f"{cn_date(today)}(北京时间)"}
    svg = footer.find("svg")
    assert svg.attrs["role"] == "img" and svg.find("title").text() == "本页地址的二维码"
    expected = segno.make(address, error="m").svg_inline(omitsize=True)
    assert svg.find("path").attrs["d"] == re.search(r' d="([^"]+)"', expected).group(1)
    # The 打印 button needs script, which shows it; until then it is hidden.
    button = next(b for b in tree.find_all("button") if "data-print" in b.attrs)
    assert "hidden" in button.attrs and button.attrs["type"] == "button"
    assert tree.find("script").attrs["src"] == "/static/print.js"


def test_the_printed_address_is_the_boards_whoever_asked_first(client, every_type):
    ref = every_type["loss_declaration"]
    crafted = client.get(f"/notices/{ref}", base_url="http://evil.example",
                         headers={"X-Forwarded-Host": "evil.example"})
    for response in (crafted, client.get(f"/notices/{ref}")):
        assert proof(parse(response))[1]["本页永久地址"] == f"{PUBLIC_URL}/notices/{ref}"
        assert "evil.example" not in response.get_data(as_text=True)


def test_the_date_on_a_kept_notice_page_is_the_day_it_is_served(app, client, make_notice):
    """A notice page is kept per board day (pages.serve); the date it prints is that day, in
    Lhasa, and the first request after midnight there gets a page made that day."""
    ref = make_notice("loss_declaration", day=date(2024, 3, 8)).ref
    new_york = ZoneInfo("America/New_York")
    last_minute = datetime(2024, 3, 20, 23, 59, tzinfo=SHANGHAI).astimezone(new_york)
    with time_machine.travel(last_minute, tick=False):
        first, again = client.get(f"/notices/{ref}"), client.get(f"/notices/{ref}")
        assert first.headers["ETag"] == again.headers["ETag"]  # served from the kept page
        assert proof(parse(again))[1]["本页生成日期"] == "2024年3月20日(北京时间)"
    midnight = datetime(2024, 3, 21, 0, 0, tzinfo=SHANGHAI).astimezone(new_york)
    with time_machine.travel(midnight, tick=False):
        response = client.get(f"/notices/{ref}", headers={"If-None-Match": first.headers["ETag"]})
        assert response.status_code == 200
        assert proof(parse(response))[1]["本页生成日期"] == "2024年3月21日(北京时间)"


def test_the_print_view_shows_masked_numbers_as_the_page_does(client, make_notice, today):
    number = "540102199001011233"
    ref = make_notice(
        "loss_declaration", day=today,
        items=[{"owner_name": "", "document_type": "id_card", "document_number": number}],
    ).ref
    body = client.get(f"/notices/{ref}").get_data(as_text=True)
    assert number not in unescape(body)
    assert "5401*************3" in body
