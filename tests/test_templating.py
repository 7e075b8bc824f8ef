"""The template helpers that turn text into markup: links around phone numbers and addresses,
the text itself unchanged and escaped; the QR code of an address."""
import re
from html import unescape

import pytest
import segno
from conftest import within

from notices import templating
from notices.templating import linkify


def tels(markup):
    return re.findall(r'href="(tel:[^"]*)"', str(markup))


def words(markup):
    """Return what a reader sees of ``markup``: its text without the tags."""
    return unescape(re.sub(r"<[^>]+>", "", str(markup)))


@pytest.mark.parametrize(
    ("text", "dialled"),
    [
        ("联系人:敬女士 电话:13889099800", ["tel:13889099800"]),
        ("联系电话:0891-6323333", ["tel:08916323333"]),
        ("总机 08916323333,转 0891-6323333-801", ["tel:08916323333", "tel:08916323333,801"]),
        ("北京 010-12345678", ["tel:01012345678"]),
        ("服务热线 400-123-4567", ["tel:4001234567"]),
        ("电话:13889099800。", ["tel:13889099800"]),
    ],
)
def test_phone_numbers_become_tel_links(text, dialled):
    markup = linkify(text, phones=True)
    assert tels(markup) == dialled
    assert words(markup) == text


@pytest.mark.parametrize(
    "text",
    [
        # ID numbers, whole (18 and 15 digits) and masked as public pages show them.
        "身份证号:540102199001011233",
        "身份证号:11010519491231002X",
        "身份证号:130503670401001",
        "身份证号:5401*************3",
        "编号:1101*************X",
        # A credit code, a birth certificate, an officer number, other documents' numbers.
        "统一社会信用代码:91540000710910556X",
        "出生医学证明(编号:T540059774)",
        "警官证(警号:397403)",
        "道路运输证(编号:A13889099800)",
        "编号:13889099800-01",
        "编号:ZJ-13889099800",
        # References and dates, in every spelling the board writes.
        "编号 GY-20261127-MCJ8R",
        "2024年3月8日—2024年4月7日",
        "2024-03-08 至 2024-04-07",
        "20240308",
        # Too long or too short to be a number one dials.
        "138890998001",
        "1388909980",
        "0891-632333",
        # Digits of another script (fullwidth) are not dialled.
        "\uff11\uff13\uff18\uff18\uff19\uff10\uff19\uff19\uff18\uff10\uff10",
    ],
)
def test_document_numbers_references_and_dates_are_left_as_text(text):
    markup = linkify(text, phones=True)
    assert tels(markup) == []
    assert words(markup) == text


def test_without_phones_nothing_is_dialled():
    assert tels(linkify("电话:13889099800", phones=False)) == []
    assert tels(linkify("电话:13889099800")) == []


def test_everything_around_and_inside_a_link_is_escaped():
    text = '<script>alert(1)</script>13889099800"><b> http://a.cn/?q=<i> 0891-6323333&'
    markup = str(linkify(text, phones=True))
    assert "<script>" not in markup and "<b>" not in markup and "<i>" not in markup
    assert tels(markup) == ["tel:13889099800", "tel:08916323333"]
    assert words(markup) == text


def test_a_phone_number_inside_an_address_stays_part_of_the_address():
    markup = linkify("见 http://www.xzkt.com/13889099800 或电话 13889099800", phones=True)
    assert 'href="http://www.xzkt.com/13889099800"' in markup
    assert tels(markup) == ["tel:13889099800"]


@pytest.mark.parametrize(
    "text",
    [
        "1" * 200_000,
        "0891-" * 40_000,
        "0" * 200_000,
        "400-" * 50_000,
        "13889099800-" * 20_000,
        ("0891-6323333-" + "8" * 7) * 10_000,
    ],
)
def test_phone_detection_is_linear_on_hostile_text(text):
    with within(2, f"finding phone numbers in {len(text)} characters"):
        linkify(text, phones=True)


def test_the_qr_code_is_inline_svg_of_the_address_without_styles():
    address = "https://notices.example.cn/notices/YS-20240308-ABCDE"
    svg = str(templating.qr_code(address))
    assert svg.startswith('<svg role="img" ') and "<title>本页地址的二维码</title>" in svg
    # The CSP allows no inline style, not even in SVG.
    assert "style" not in svg
    drawn = re.search(r' d="([^"]+)"', svg).group(1)
    expected = segno.make(address, error="m").svg_inline(omitsize=True)
    assert drawn == re.search(r' d="([^"]+)"', expected).group(1)
    assert drawn != re.search(r' d="([^"]+)"', str(templating.qr_code(address + "X"))).group(1)
