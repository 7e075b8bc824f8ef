"""What a citizen reads on the public pages: how many days each type has left."""
from datetime import date
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from notices import expiry
from notices import kinds

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
