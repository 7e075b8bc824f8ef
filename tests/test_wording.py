"""Rendering the seeds' own fields must reproduce the printed notices character for character."""
import random
import re
import sys
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from conftest import within

from notices import expiry
from notices import kinds
from notices import seeds
from notices import services
from notices import wording
from notices.kinds import loss_declaration

SEED_PAGES = Path(__file__).parent / "data" / "seeds"


def printed_lines(page, heading, last_line):
    """Return the printed lines of the notice headed ``heading`` on a seed page, as text.

    The pages are Markdown: headings carry #, links sit in <…>, hard breaks end in two
    spaces and a list item starts with "- ". The words in between are the newspaper's.
    """
    text = (SEED_PAGES / page).read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^#+\s*|^-\s+", "", line.strip())
        line = re.sub(r"<(https?://[^>]+)>", r"\1", line)
        if line:
            lines.append(line)
    start = lines.index(heading)
    end = next(i for i in range(start, len(lines)) if last_line in lines[i])
    return lines[start : end + 1]


@pytest.fixture
def render(app):
    """Render a seed notice from its form data, validated as a submission would be."""

    def render(code, index=0, start=None, end=None):
        kind = kinds.get(code)
        seed = [s for s in seeds.SEEDS if s.kind == code][index]
        data = dict(seed.data)
        start = start or seed.printed
        if kind.submitter_sets_window:
            data["window_start"] = start.isoformat()
        with app.app_context():
            # The seeds as printed: no consent of the board's own to ask for.
            form = services.validate(kind, services.flatten(data), today=None, asks_consent=False)
            return kind.preview(form, start, end or expiry.window_end(start, 30))

    return render


def test_supplier_call_reads_as_printed(render):
    printed = printed_lines(
        "000_d0077758cb4155d3.txt",
        "西藏开发投资集团有限公司 非招标采购供应商入库征集公告",
        "邮箱:zczx@xzkt.net",
    )
    assert len(printed) == 16
    assert render("supplier_call").lines() == printed


def test_expert_call_reads_as_printed(render):
    printed = printed_lines(
        "000_d0077758cb4155d3.txt",
        "西藏开发投资集团有限公司 评标专家库专家征集公告",
        "邮箱:zczx@xzkt.net",
    )
    assert len(printed) == 21
    assert render("expert_call").lines() == printed


def test_wage_notice_reads_as_printed(render):
    printed = printed_lines("001_8269f2ffb608589c.txt", "公示", "2026年7月10日")
    assert len(printed) == 6
    assert render("wage_clearance").lines() == printed


@pytest.mark.parametrize("index", range(6))
def test_loss_lines_read_as_printed(render, index):
    printed = printed_lines("001_8269f2ffb608589c.txt", "遗失声明", "F000039579")
    assert len(printed) == 7
    assert render("loss_declaration", index).lines() == ["遗失声明", printed[1 + index]]


def test_call_windows_print_the_seed_dates(render):
    text = render("supplier_call")
    assert "2024年3月8日—2024年4月7日" in text.lines()


def test_wage_notice_states_the_configured_objection_period(render):
    start = date(2026, 7, 10)
    text = render("wage_clearance", start=start, end=expiry.window_end(start, 45)).plain()
    assert "见报之日起45日" in text


def test_wage_notice_authority_defaults_to_local_labour_bureau(render):
    assert "向当地劳动局举报" in render("wage_clearance").plain()


def test_sections_renumber_without_details():
    kind = kinds.get("supplier_call")
    fields = {
        "issuer": "某公司", "scopes": ["goods"], "requirements": ["甲", "乙"],
        "participation": "参与", "details": [], "contact_unit": "某部",
        "contact_name": "王先生", "contact_phone": "13800000000", "contact_email": "a@b.cn",
    }
    lines = kind.text(fields, date(2024, 1, 1), date(2024, 1, 31)).lines()
    assert "五、联系方式" in lines
    assert not any("征集详情" in line for line in lines)
    assert "(一)甲;(二)乙。" in lines


def test_loss_line_for_the_declarants_own_document_omits_the_owner():
    item = {"owner_name": "索朗仁青", "document_type": "police_id", "document_number": "397403"}
    assert loss_declaration.sentence("索朗仁青", item) == "索朗仁青不慎,将警官证(警号:397403)丢失,声明作废。"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("(一)具有独立法人资格;", "具有独立法人资格"),
        ("1.熟悉法律法规;", "熟悉法律法规"),
        ("2、身体健康。", "身体健康"),
        ("（3）具有固定办公场所；", "具有固定办公场所"),
        ("四、自愿参加", "自愿参加"),
        ("2021年以来无不良记录", "2021年以来无不良记录"),
    ],
)
def test_pasted_enumerations_are_not_printed_twice(typed, stored):
    assert wording.clean_lines(typed) == [stored]


@pytest.mark.parametrize(("n", "numeral"), [(1, "一"), (6, "六"), (10, "十"), (11, "十一"), (20, "二十"), (23, "二十三")])
def test_chinese_numerals(n, numeral):
    assert wording.cn_numeral(n) == numeral


def test_sites_join_like_the_printed_call():
    sites = wording.parse_sites("甲网\n乙网 (https://b.cn/)\n丙网 <http://c.cn/>\n丁网")
    assert wording.sites_sentence("请登录", sites) == "请登录甲网、乙网(https://b.cn/)丙网(http://c.cn/)丁网查看。"


# --- patterns that see what people type -------------------------------------------------------
# The regular expressions clean_lines and parse_sites used until they backtracked for minutes
# on a 250 KB line, kept to show that their replacements read every normal line the same way.

OLD_ENUMERATION = re.compile(
    r"^\s*(?:[(（]\s*[一二三四五六七八九十\d]+\s*[)）]|[一二三四五六七八九十]+\s*[、.．]|\d+\s*[.．、)）])\s*"
)
OLD_TRAILING_PUNCTUATION = re.compile(r"[;；。.,，、\s]+$")
OLD_SITE_URL = re.compile(r"[(（<]*\s*(https?://\S+?)\s*[>)）]*$")


def old_clean_lines(text):
    lines = []
    for line in (text or "").splitlines():
        line = OLD_TRAILING_PUNCTUATION.sub("", OLD_ENUMERATION.sub("", line)).strip()
        if line:
            lines.append(line)
    return lines


def old_parse_sites(text):
    sites = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        match = OLD_SITE_URL.search(line)
        if match:
            sites.append({"name": line[: match.start()].strip(), "url": match.group(1)})
        else:
            sites.append({"name": line, "url": ""})
    return sites


# The pieces the patterns turn on, and a few they do not, for generated lines.
FRAGMENTS = [
    "http://", "https://", "http:/", "https", "htt", "HTTP://", "://", "(", "（", "<", ">", ")",
    "）", " ", "  ", "\t", "\u3000", "\xa0", "\n", "\r\n", "\x0b", "\u2028", ";", "；", "。",
    ".", ",", "，", "、", "．", "1", "12", "一", "十二", "(一)", "（3）", "1.", "2、", "四、", "a",
    "www.xzkt.com", "/", "?b=1", "网站", "门户", ":", "-", "x",
]


def generated(count, seed):
    rng = random.Random(seed)
    for _ in range(count):
        yield "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 14)))


@pytest.mark.parametrize("seed", range(4))
def test_clean_lines_reads_every_generated_text_as_the_old_pattern_did(seed):
    for text in generated(5_000, seed):
        assert wording.clean_lines(text) == old_clean_lines(text), repr(text)


@pytest.mark.parametrize("seed", range(4))
def test_parse_sites_reads_every_generated_text_as_the_old_pattern_did(seed):
    for text in generated(5_000, seed):
        assert wording.parse_sites(text) == old_parse_sites(text), repr(text)


def test_the_seed_sites_and_requirements_read_as_before():
    for seed in seeds.SEEDS:
        for name in ("details", "requirements"):
            value = seed.data.get(name)
            if isinstance(value, list):
                value = "\n".join(value)
            if value:
                assert wording.parse_sites(value) == old_parse_sites(value)
                assert wording.clean_lines(value) == old_clean_lines(value)


# A little under the 256 KB a request may carry: what one request can make a pattern read.
WORST = 250_000
WORST_LINES = [
    ";" * WORST + "x",
    "；" * WORST + "x",
    " " * WORST + "x",
    "\t" * WORST + "x",
    "(" * WORST,
    "（" * WORST + "x",
    "1" * WORST + "x",
    "(" + "1" * WORST,
    "http://" + ")" * WORST + " x",
    "http://" + "a" * WORST + " x",
    "a " + "http://a " * (WORST // 9) + "x",
    "<" * WORST + "http://" + ">" * WORST + "x",
]


@pytest.mark.parametrize("line", WORST_LINES, ids=lambda line: repr(line[:12]))
def test_cleaning_and_parsing_take_linear_time(line):
    with within(1, "clean_lines and parse_sites on one long line"):
        wording.clean_lines(line)
        wording.parse_sites(line)


# --- invisible characters ----------------------------------------------------------------------

def test_visible_removes_exactly_the_format_characters():
    # Every code point but the surrogates, which are no characters; a new version of Unicode
    # adding a format character fails here until the pattern has it.
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    expected = "".join(c for c in every if unicodedata.category(c) != "Cf")
    assert wording.visible(every) == expected


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("西藏\u200b开发", "西藏开发"),
        ("\u202e西藏开发\u202c", "西藏开发"),
        ("\u2066扎西\u2069央珍", "扎西央珍"),
        ("\ufeff声明人", "声明人"),
        ("soft\u00adhyphen\u2060", "softhyphen"),
        ("\u200e\u200f\u200c\u200d", ""),
        ("བཀྲ་ཤིས་ ｗｉｄｅ　space", "བཀྲ་ཤིས་ ｗｉｄｅ　space"),
    ],
)
def test_visible_keeps_every_other_character(typed, kept):
    assert wording.visible(typed) == kept
