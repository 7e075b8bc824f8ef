"""Document types named in loss declarations, and the rules their numbers must follow.

Pure functions: forms, the API and the lost-document lookup all call them, so every entry
point refuses the same number with the same message. The keyed hash at the end reads the
app's key.
"""
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from flask import current_app

from notices import wording


class DocumentNumberError(ValueError):
    """A document number that breaks its type's rule; the message names the rule."""


@dataclass(frozen=True)
class DocumentType:
    code: str
    name: str
    # What the newspaper calls the number in a loss line: 编号, 警号, …
    number_label: str
    # Shown as help text next to the number field.
    hint: str


DOCUMENT_TYPES = {
    t.code: t
    for t in (
        DocumentType("id_card", "居民身份证", "身份证号", "18位,最后一位可能是X"),
        DocumentType(
            "business_license", "营业执照", "统一社会信用代码", "营业执照上的18位统一社会信用代码"
        ),
        DocumentType(
            "birth_certificate", "出生医学证明", "编号", "证明右上角的编号:1个字母加9位数字,如T540059774"
        ),
        DocumentType("police_id", "警官证", "警号", "警官证内页的6位警号"),
        DocumentType("other", "其他证件", "编号", "1至40位字母、数字或连字符"),
    )
}

ID_CARD_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CARD_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def normalize_number(number):
    """Return ``number`` as stored: digits in ASCII, spaces and invisible characters removed,
    upper-case.

    People copy numbers from scans and phones, so full-width digits (１２３), digits of
    another script (Arabic-Indic ٣, Tibetan ༣ …), stray spaces and zero-width characters are
    common; they never change which document is meant, and the lookup and the duplicate
    warning compare numbers as stored.
    """
    folded = ascii_digits(wording.visible(unicodedata.normalize("NFKC", number or "")))
    return re.sub(r"\s+", "", folded).upper()


def ascii_digits(text):
    """Return ``text`` with every decimal digit, of whatever script, as 0-9.

    NFKC leaves these alone: ٣ is a digit of its own, not a form of 3. The rules below would
    take them anyway (\\d matches them), and a number would then be stored as typed and never
    found by someone typing 0-9.
    """
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def id_card_check_char(first17):
    """Return the GB 11643 check character for the first 17 digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, ID_CARD_WEIGHTS))
    return ID_CARD_CHECK[total % 11]


def uscc_check_char(first17):
    """Return the GB 32100 check character for the first 17 characters of a credit code."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _check_id_card(number):
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise DocumentNumberError("居民身份证号码应为18位:前17位是数字,最后一位是数字或X")
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise DocumentNumberError("居民身份证号码第7至14位应是有效的出生日期") from None
    if id_card_check_char(number[:17]) != number[17]:
        raise DocumentNumberError("居民身份证号码最后一位校验码不符(GB 11643),请逐位核对")


def _check_uscc(number):
    if not re.fullmatch(f"[{USCC_ALPHABET}]{{18}}", number):
        raise DocumentNumberError(
            "统一社会信用代码应为18位数字或大写字母(不含I、O、Z、S、V)"
        )
    if uscc_check_char(number[:17]) != number[17]:
        raise DocumentNumberError("统一社会信用代码最后一位校验码不符(GB 32100),请逐位核对")


def _pattern(regex, message):
    def check(number):
        if not re.fullmatch(regex, number):
            raise DocumentNumberError(message)

    return check


RULES = {
    "id_card": _check_id_card,
    "business_license": _check_uscc,
    "birth_certificate": _pattern(
        r"[A-Z]\d{9}", "出生医学证明编号应为1个字母加9位数字,如T540059774"
    ),
    "police_id": _pattern(r"\d{6}", "警号应为6位数字"),
    "other": _pattern(r"[A-Z0-9-]{1,40}", "证件编号应为1至40位字母、数字或连字符"),
}


def type_name(document_type, other_name=None):
    """Return the document's name as printed: the type's name, or the submitter's for other."""
    if document_type == "other":
        return other_name or DOCUMENT_TYPES["other"].name
    return DOCUMENT_TYPES[document_type].name


def check_number(document_type, number):
    """Return ``number`` normalized, or raise :class:`DocumentNumberError` naming the rule."""
    if document_type not in RULES:
        raise DocumentNumberError("请选择证件类型")
    normalized = normalize_number(number)
    if not normalized:
        raise DocumentNumberError("请填写证件编号")
    RULES[document_type](normalized)
    return normalized


# How much of a number public text keeps: the leading characters name only the province and
# prefecture (and, on a credit code, the registering office and kind of body), the last one is
# the check character. The rest (an ID number's county, birth date and serial; a credit code's
# county and organisation code) stays hidden, so that someone who knows the holder's name and
# prefecture is still left with hundreds of thousands of candidates (tests/test_documents.py
# counts them), too many to try through the rate-limited lookup. Showing the first 6 and last 4
# of an ID number, as once done, hid only the birth date: about 3,300 candidates.
KEPT = {"id_card": (4, 1), "business_license": (6, 1)}
OLD_ID_LENGTH = 15

# A run of digits, and the X an ID number may end with. One quantifier, no alternatives that
# overlap: linear on any input.
_DIGIT_RUN = re.compile(r"\d+[Xx]?")


def _hide(number, head, tail):
    return number[:head] + "*" * (len(number) - head - tail) + number[len(number) - tail :]


def is_id_number(text):
    """Return True if ``text`` is an ID number: 18 characters passing the GB 11643 check, or 15
    digits (the old numbers, which have no check character)."""
    if len(text) == OLD_ID_LENGTH:
        return text.isdigit()
    if len(text) != 18 or not text[:17].isdigit():
        return False
    # Any script's digits count (full-width, Arabic-Indic …): they read as the same number.
    ascii_digits = "".join(str(unicodedata.digit(c)) if c.isdigit() else c.upper() for c in text)
    return id_card_check_char(ascii_digits[:17]) == ascii_digits[17]


def mask_id_numbers(text):
    """Return ``text`` with every ID number in it masked, whatever it was typed as.

    Driving licences and social-security cards carry the holder's ID number, and people type
    theirs into names and titles too: public text never shows one in full.
    """
    if not text or not any(c.isdigit() for c in text):
        return text

    def masked(match):
        run = match.group()
        return _hide(run, *KEPT["id_card"]) if is_id_number(run) else run

    return _DIGIT_RUN.sub(masked, text)


def mask_strings(value):
    """Return ``value`` (a string, or lists and dicts of them) with every ID number masked."""
    if isinstance(value, str):
        return mask_id_numbers(value)
    if isinstance(value, list):
        return [mask_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_strings(v) for k, v in value.items()}
    return value


def mask_number(document_type, number):
    """Return the number as public pages may show it.

    ID numbers keep their first 4 characters and the last; credit codes their first 6 and the
    last; any other number is shown as declared, unless it is an ID number itself.
    """
    if document_type in KEPT and len(number) > sum(KEPT[document_type]):
        return _hide(number, *KEPT[document_type])
    return mask_id_numbers(number)


# --- numbers kept as keyed hashes --------------------------------------------------------
#
# A full number is needed only while an editor reviews it. From the decision on (approve,
# reject, withdraw; an import publishes at once) a loss item keeps the number's public form
# (mask_number: what pages have always shown) and its keyed hash, and everything that matches
# a number (the lookups, the review's duplicate warning, the number watch, both search
# engines) hashes what a person types and compares hashes. The key never leaves the
# configuration, so a copy of the database, a backup or an index file cannot be checked
# against a list of candidate numbers: an unkeyed hash of an 18-digit ID number, most of
# whose digits a public page shows, would be undone by trying the hidden ones.
#
# The key is HMAC(NUMBER_HASH_KEY, "document-watch"), NUMBER_HASH_KEY defaulting to
# SECRET_KEY: the derivation the number watch has used from the start, so watches stored
# before keep matching. Changing the key makes every stored hash stop matching (a lookup
# finds nothing, a watch never fires), and the full numbers needed to compute them again are
# gone by design: whoever rotates SECRET_KEY sets FLASK_NUMBER_HASH_KEY to the old secret
# (README, "Document numbers"), and `flask init-db` refuses to go on with a key other than
# the one the stored hashes were made with (number_key_fingerprint).
_NUMBER_KEY_LABEL = b"document-watch"


def _number_key():
    config = current_app.config
    secret = (config.get("NUMBER_HASH_KEY") or config["SECRET_KEY"]).encode()
    return hmac.new(secret, _NUMBER_KEY_LABEL, hashlib.sha256).digest()


def number_hash(number):
    """Return the keyed hash (64 hex characters) of a document number, normalized first, so
    that any way of typing one number gives one hash."""
    return hmac.new(_number_key(), normalize_number(number).encode(), hashlib.sha256).hexdigest()


def number_key_fingerprint():
    """Return a short fingerprint of the number key, to tell a changed key without keeping
    the key (a hash of a fixed label, which no document number can equal)."""
    return hmac.new(_number_key(), b"\x00fingerprint", hashlib.sha256).hexdigest()[:16]


def sealed_item(item):
    """Return a declared document (a dict with the full, normalized number) as a decided
    loss item keeps it: the number's public form and keyed hash, and any ID number typed in
    the owner's or the document's name masked (models.LossItem.seal does the same to a row)."""
    return dict(
        item,
        document_number=mask_number(item["document_type"], item["document_number"]),
        number_hash=number_hash(item["document_number"]),
        owner_name=mask_id_numbers(item["owner_name"]),
        document_type_other=mask_id_numbers(item.get("document_type_other")),
    )
