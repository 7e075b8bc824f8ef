"""Building blocks of the newspaper's wording, shared by the notice types.

Pure functions. The punctuation follows the seed pages exactly (ASCII ``,`` ``:`` ``(`` and
``;`` inside Chinese sentences), because a published notice must read as the printed one does.

Everything here reads what people typed, so every scan is linear: a pattern that backtracks
(``[;。\\s]+$`` tried at each of 250,000 spaces) would hold a worker for minutes.
"""
import re
from dataclasses import dataclass
from dataclasses import field

from notices.expiry import BOARD_TZ

NUMERALS = "一二三四五六七八九十"

# Leading enumerations people paste along with a list: (一) 一、 1. 1、 (1) 1). Linear: it is
# anchored, and no two neighbouring runs can take the same character.
_ENUMERATION = re.compile(
    r"^\s*(?:[(（]\s*[一二三四五六七八九十\d]+\s*[)）]|[一二三四五六七八九十]+\s*[、.．]|\d+\s*[.．、)）])\s*"
)
# Unicode's format characters (category Cf): zero-width spaces and joiners, bidi marks,
# embeddings, overrides and isolates, the BOM, the soft hyphen, tags. They show nothing, yet
# split a word for search (西藏\u200b开发 is not 西藏开发), and they can make text read
# otherwise than it is stored. A test checks this list against unicodedata.
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)
# Every character str.isspace() and the pattern \s take for a space; none lies above U+3000.
SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
# What a pasted line may end with that the rendering adds again (or leaves out): ; 。 and so on.
_CLOSING_PUNCTUATION = ";；。.,，、" + SPACES
# What may stand around a site's URL: 门户网站(http://…), <http://…>.
_OPENING_BRACKETS = "(（<"
_CLOSING_BRACKETS = ">)）"
_URL_SCHEMES = ("http://", "https://")
# What a link's scheme is made of (RFC 3986): a letter, then letters, digits, + . and -.
_SCHEME_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SCHEME_CHARACTERS = _SCHEME_LETTERS | frozenset("0123456789+.-")
# Schemes a browser runs or opens with no // after them. Others are links only with // (ftp://),
# so 网站:www.xzkt.com and 电话:0891… stay text.
_BARE_SCHEMES = frozenset({
    "javascript", "vbscript", "livescript", "data", "blob", "filesystem", "file", "jar",
    "mhtml", "view-source", "mailto",
})


@dataclass
class Block:
    # "heading" for 一、征集时间, "para" for a line of text, "sign" for the signature lines.
    kind: str
    text: str


@dataclass
class Text:
    """A notice's published text: its printed heading and its blocks, in order."""

    title: str
    blocks: list = field(default_factory=list)

    def heading(self, text):
        self.blocks.append(Block("heading", text))

    def para(self, text):
        self.blocks.append(Block("para", text))

    def sign(self, text):
        self.blocks.append(Block("sign", text))

    def sections(self, sections):
        """Append numbered sections, each (heading, lines), as 一、征集时间 and its lines."""
        for number, (heading, lines) in enumerate(sections, 1):
            self.heading(f"{cn_numeral(number)}、{heading}")
            for line in lines:
                if line.strip():
                    self.para(line.strip())

    def lines(self):
        return [self.title] + [b.text for b in self.blocks]

    def plain(self):
        """Return the text as plain lines, the form the API and the archive keep."""
        return "\n".join(self.lines())


def cn_date(d):
    """Return ``d`` as the newspaper prints dates: 2024年3月8日."""
    return f"{d.year}年{d.month}月{d.day}日"


def board_time(moment):
    """Return an aware datetime as the board's local date and time: 2024年3月8日 09:00."""
    local = moment.astimezone(BOARD_TZ)
    return f"{cn_date(local)} {local:%H:%M}"


def cn_numeral(n):
    """Return 1..99 in Chinese numerals, as section numbers are printed (一, 十二, 二十)."""
    if not 1 <= n <= 99:
        raise ValueError(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else NUMERALS[tens - 1] + "十")
    return head + (NUMERALS[ones - 1] if ones else "")


def visible(text):
    """Return ``text`` without format characters (Unicode category Cf), which show nothing."""
    return text if text.isascii() else _INVISIBLE.sub("", text)


def clean_lines(text):
    """Return the non-empty lines of ``text`` without enumerations or closing punctuation.

    Requirements are stored bare and numbered when rendered, so pasting an already
    numbered list does not print "(一)1.…".
    """
    lines = []
    for line in (text or "").splitlines():
        line = _ENUMERATION.sub("", line).rstrip(_CLOSING_PUNCTUATION).strip()
        if line:
            lines.append(line)
    return lines


def inline_list(items):
    """Return items as one printed sentence: (一)甲;(二)乙。"""
    return ";".join(f"({cn_numeral(i)}){item}" for i, item in enumerate(items, 1)) + "。"


def numbered_lines(items, closing=True):
    """Return items as printed numbered lines: 1.甲; … 6.己。 (bare when ``closing`` is false)."""
    if not closing:
        return [f"{i}.{item}" for i, item in enumerate(items, 1)]
    last = len(items)
    return [f"{i}.{item}{'。' if i == last else ';'}" for i, item in enumerate(items, 1)]


def parse_sites(text):
    """Return the sites of a 征集详情 field: one per line, a name and an optional URL.

    ``中国采购与招标网`` and ``门户网站 http://www.xzkt.com/`` (or the URL in brackets) both work.
    """
    sites = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        found = _url_at_end(line)
        if found:
            start, url = found
            sites.append({"name": line[:start].strip(), "url": url})
        else:
            sites.append({"name": line, "url": ""})
    return sites


def _url_at_end(line):
    """Return (where the URL and its brackets begin, the URL) for a line ending in one, or None.

    The URL is the line's last word (bar closing brackets) from its first http:// or https://;
    closing brackets directly after it are not part of it, unless nothing else would be.
    """
    # What may follow the URL: spaces, then closing brackets.
    end = len(line.rstrip(_CLOSING_BRACKETS).rstrip(SPACES))
    word = end
    while word and not line[word - 1].isspace():
        word -= 1
    starts = [i for i in (line.find(s, word, end) for s in _URL_SCHEMES) if i != -1]
    if not starts:
        return None
    start = min(starts)
    rest = start + len("https://" if line.startswith("https://", start) else "http://")
    if rest == end:
        # A scheme and nothing else: the URL takes the first closing bracket, if one follows.
        if end == len(line) or line[end].isspace():
            return None
        end += 1
    url = line[start:end]
    # Spaces, then opening brackets, may stand before the URL.
    while start and line[start - 1].isspace():
        start -= 1
    while start and line[start - 1] in _OPENING_BRACKETS:
        start -= 1
    return start, url


def foreign_scheme(text):
    """Return the scheme of the first link in ``text`` that is not http or https, or None.

    A scheme is the letters, digits, + . and - before a colon, from the first letter, in any
    case: ``ftp`` in 网站ftp://x, ``javascript`` in (JavaScript:alert(1)).
    """
    colon = text.find(":")
    while colon != -1:
        # The run before each colon is read once: colons end runs, so no character is read
        # twice, however many colons follow.
        start = colon
        while start and text[start - 1] in _SCHEME_CHARACTERS:
            start -= 1
        while start < colon and text[start] not in _SCHEME_LETTERS:
            start += 1
        scheme = text[start:colon].lower()
        if scheme and scheme not in ("http", "https") and (
            scheme in _BARE_SCHEMES or text.startswith("//", colon + 1)
        ):
            return scheme
        colon = text.find(":", colon + 1)
    return None


def sites_text(sites):
    """Return sites as the form's text again, one per line."""
    return "\n".join(f"{s['name']} {s['url']}".strip() for s in sites)


def sites_sentence(lead, sites):
    """Return the 征集详情 sentence: lead, the sites, then 查看。

    Sites are joined with 、 except after one that ends in its bracketed URL, where the
    closing bracket already separates them; that is how the printed call reads.
    """
    parts = []
    for i, site in enumerate(sites):
        parts.append(site["name"] + (f"({site['url']})" if site["url"] else ""))
        if i < len(sites) - 1 and not site["url"]:
            parts.append("、")
    return f"{lead}{''.join(parts)}查看。"


def corrected_title(title):
    """Return the title of a correction in listings and feeds: the corrected notice's title,
    marked (更正)."""
    return f"{title}(更正)"


def correction_text(title, ref, published_on, changes, issuer, day):
    """Return a 更正启事: which notice was wrong, each change, then issuer and date.

    ``changes`` are (label, old, new) in the public, masked form of the values, e.g.
    ("征集截止日期", "2026年12月20日", "2027年1月10日"). Each one is a sentence, numbered when
    there are several, as the newspaper prints its corrections.
    """
    text = Text("更正启事")
    text.para(f"本网于{cn_date(published_on)}发布的《{title}》(编号:{ref})有误,现更正如下:")
    numbered = len(changes) > 1
    for i, (label, old, new) in enumerate(changes, 1):
        number = f"{i}." if numbered else ""
        text.para(f"{number}{label}原为“{old}”,现更正为“{new}”。")
    text.para("其他内容不变。特此更正。")
    text.sign(issuer)
    text.sign(cn_date(day))
    return text
