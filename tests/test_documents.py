import functools
from datetime import date

import pytest

from notices import documents
from notices.documents import DocumentNumberError
from notices.documents import check_number


@pytest.mark.parametrize(
    ("document_type", "typed", "stored"),
    [
        # The commonly published GB 11643 example, whose check character is X.
        ("id_card", "11010519491231002X", "11010519491231002X"),
        ("id_card", "110105 19491231 002x", "11010519491231002X"),
        ("id_card", "540102199001011233", "540102199001011233"),
        # Full-width digits as typed on a phone's Chinese keyboard.
        ("id_card", "５４０１０２１９９００１０１１２３３", "540102199001011233"),
        ("business_license", "91350100M000100Y43", "91350100M000100Y43"),
        ("business_license", "91540000ma6t12345u", "91540000MA6T12345U"),
        ("birth_certificate", "T540059774", "T540059774"),
        ("birth_certificate", "t 540059774", "T540059774"),
        ("police_id", "397403", "397403"),
        ("other", "zang-A 12345", "ZANG-A12345"),
    ],
)
def test_valid_numbers_are_normalized(document_type, typed, stored):
    assert check_number(document_type, typed) == stored


@pytest.mark.parametrize(
    ("document_type", "number", "message"),
    [
        ("id_card", "11010519491231002", "应为18位"),
        ("id_card", "1101051949123100XX", "应为18位"),
        ("id_card", "110105194912310021", "校验码不符"),
        ("id_card", "540102199001011234", "校验码不符"),
        ("id_card", "110105194913310025", "出生日期"),
        ("business_license", "91350100M000100Y44", "校验码不符"),
        ("business_license", "91350100M000100YO3", "18位数字或大写字母"),
        ("business_license", "9135010", "18位"),
        ("birth_certificate", "540059774", "1个字母加9位数字"),
        ("birth_certificate", "TT54005977", "1个字母加9位数字"),
        ("police_id", "39740", "6位数字"),
        ("police_id", "39740A", "6位数字"),
        ("other", "号码123", "字母、数字或连字符"),
        ("other", "A" * 41, "1至40位"),
        ("police_id", "   ", "请填写证件编号"),
        ("passport", "E12345678", "请选择证件类型"),
    ],
)
def test_invalid_numbers_are_refused_naming_the_rule(document_type, number, message):
    with pytest.raises(DocumentNumberError, match=message):
        check_number(document_type, number)


def test_every_id_card_check_character_is_reachable():
    # The weights of GB 11643 mod 11 give each of the 11 check characters for some number.
    seen = set()
    for serial in range(200):
        first17 = f"54010219900101{serial:03d}"
        seen.add(documents.id_card_check_char(first17))
    assert seen == set(documents.ID_CARD_CHECK)


def test_uscc_check_of_31_wraps_to_zero():
    # A code whose weighted sum is a multiple of 31 must take 0, not the out-of-range 31.
    for tail in range(10_000):
        first17 = f"9154000071{tail:07d}"
        total = sum(
            documents.USCC_ALPHABET.index(c) * w for c, w in zip(first17, documents.USCC_WEIGHTS)
        )
        if total % 31 == 0:
            assert documents.uscc_check_char(first17) == "0"
            check_number("business_license", first17 + "0")
            return
    pytest.fail("no code with a weighted sum divisible by 31 in the range tried")


def test_id_numbers_and_credit_codes_are_masked():
    assert documents.mask_number("id_card", "540102199001011233") == "5401*************3"
    assert documents.mask_number("id_card", "11010519491231002X") == "1101*************X"
    assert documents.mask_number("business_license", "91540000MA6T12345U") == "915400***********U"
    assert documents.mask_number("police_id", "397403") == "397403"
    assert documents.mask_number("birth_certificate", "T540059774") == "T540059774"
    # An "other" document that carries an ID number (a driving licence) is masked as one.
    assert documents.mask_number("other", "540102199001011233") == "5401*************3"
    assert documents.mask_number("other", "ZANG-A12345") == "ZANG-A12345"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("扎西540102199001011233", "扎西5401*************3"),
        ("证号11010519491231002x的驾驶证", "证号1101*************x的驾驶证"),
        # An old 15-digit number has no check character: every 15-digit run is masked.
        ("旧证110105491231002", "旧证1101**********2"),
        # Full-width and Arabic-Indic digits are the same number.
        ("５４０１０２１９９００１０１１２３３", "５４０１*************３"),
        ("٥٤٠١٠٢١٩٩٠٠١٠١١٢٣٣", "٥٤٠١*************٣"),
        ("ID540102199001011233号", "ID5401*************3号"),
        # Not ID numbers: a wrong check character, other lengths, phones, dates.
        ("540102199001011234", "540102199001011234"),
        ("5401021990010112331", "5401021990010112331"),
        ("电话0891-6321234,13800138000,2024-03-08", "电话0891-6321234,13800138000,2024-03-08"),
        ("", ""),
    ],
)
def test_id_numbers_are_masked_wherever_they_appear(text, shown):
    assert documents.mask_id_numbers(text) == shown


def test_masking_a_long_run_of_digits_is_linear():
    import time

    started = time.perf_counter()
    documents.mask_id_numbers("1" * 250_000 + "X" + "2" * 250_000)
    documents.mask_id_numbers("12345678901234567X " * 12_000)
    assert time.perf_counter() - started < 2


# --- How many numbers fit a masked one ------------------------------------------------------
# Someone who knows the holder's name (so their sex) and prefecture looks at the masked number
# and counts the full numbers that fit it. We grant them more: the county too, and the decade
# of birth. Each of those numbers is a candidate for the rate-limited lookup.

MIN_CANDIDATES = 100_000


def _residues(weights, alphabet_values, modulus):
    """Return {residue: how many ways} of sum(value * weight) over every choice of values."""
    counts = {0: 1}
    for weight, values in zip(weights, alphabet_values):
        step = {}
        for residue, ways in counts.items():
            for value in values:
                key = (residue + value * weight) % modulus
                step[key] = step.get(key, 0) + ways
        counts = step
    return counts


def _birth_dates(first_year, years):
    day, end = date(first_year, 1, 1), date(first_year + years, 1, 1)
    while day < end:
        yield day
        day = date.fromordinal(day.toordinal() + 1)


@functools.cache
def _date_residues(county, first_year, years, shown_date):
    """Return {residue: how many birth dates} of the first 14 characters' weighted sum."""
    dates = {}
    for born in _birth_dates(first_year, years):
        first14 = county + born.strftime("%Y%m%d")
        if all(first14[i] == c for i, c in shown_date):
            base = sum(int(d) * w for d, w in zip(first14, documents.ID_CARD_WEIGHTS)) % 11
            dates[base] = dates.get(base, 0) + 1
    return dates


def id_card_candidates(masked, county, first_year, male, years=10):
    """Count the 18-character ID numbers that fit ``masked`` and what is known.

    Known: the first 6 characters (``county``), birth within ``years`` from ``first_year``,
    the sex (the 17th digit is odd for men); shown: whatever ``masked`` does not hide.
    """
    shown = {i: c for i, c in enumerate(masked) if c != "*"}
    assert all(county[i] == c for i, c in shown.items() if i < 6), "another county"
    sex = range(1, 10, 2) if male else range(0, 10, 2)
    serial = [
        [int(shown[i])] if i in shown else list(values)
        for i, values in zip((14, 15, 16), (range(10), range(10), sex))
    ]
    # How many serials give each residue of the weighted sum: the same for every birth date.
    ways = _residues(documents.ID_CARD_WEIGHTS[14:], serial, 11)
    shown_date = tuple((i, c) for i, c in shown.items() if 6 <= i < 14)
    dates = _date_residues(county, first_year, years, shown_date)
    return sum(
        days * count
        for base, days in dates.items()
        for residue, count in ways.items()
        if shown.get(17, "?") in ("?", documents.ID_CARD_CHECK[(base + residue) % 11])
    )


@pytest.mark.parametrize("male", [True, False])
def test_a_masked_id_number_leaves_at_least_100000_candidates(male):
    county = "540102"
    fewest = None
    for first_year in range(1930, 2021, 10):
        # Whatever the check character the mask shows.
        for check in documents.ID_CARD_CHECK:
            masked = documents.mask_number("id_card", f"{county}{first_year + 5}0615001{check}")
            candidates = id_card_candidates(masked, county, first_year, male)
            fewest = candidates if fewest is None else min(fewest, candidates)
    # 3,652 days of a decade x 500 serials of one sex / 11 check characters = about 166,000.
    assert fewest >= MIN_CANDIDATES


def test_the_old_six_and_four_mask_left_a_few_thousand():
    # What the review found: 540102********1233 hides only the birth date, and the check
    # character filters those; even over a whole century only about 3,300 remain.
    number = "540102199001011233"
    old_mask = number[:6] + "*" * 8 + number[-4:]
    candidates = sum(
        id_card_candidates(old_mask, "540102", first_year, male=True)
        for first_year in range(1920, 2020, 10)
    )
    assert candidates < 5_000


def test_a_masked_old_id_number_leaves_at_least_100000_candidates():
    # 15 digits: county (6), birth as YYMMDD (6), serial (3), no check character. Shown: the
    # first 4 and the last, the serial's sex digit. Hidden and unknown to someone who knows the
    # county and the decade of birth: the date (3,652 days) and two serial digits (100).
    masked = documents.mask_number("other", "110105491231002")
    assert masked == "1101**********2"
    hidden_serial_digits = masked[12:14].count("*")
    days = sum(1 for _ in _birth_dates(1940, 10))
    assert masked[6:12] == "******"
    assert days * 10 ** hidden_serial_digits >= MIN_CANDIDATES


def test_a_masked_credit_code_leaves_at_least_100000_candidates():
    # 18 characters: registering office and kind (2), county code (6), organisation code (8
    # characters and its GB 11714 check character), the GB 32100 check character. Shown: the
    # first 6 (office, kind, province, prefecture) and the last. Known besides: the county
    # code. The organisation code's 8 characters are hidden; counted over digits only, the
    # narrowest alphabet codes were issued in.
    code = "91540000MA6T12345U"
    masked = documents.mask_number("business_license", code)
    assert masked[:6] == code[:6] and masked[6:17] == "*" * 11 and masked[17] == code[17]
    value = documents.USCC_ALPHABET.index
    base = sum(value(c) * w for c, w in zip(code[:8], documents.USCC_WEIGHTS))
    org_weights = (3, 7, 9, 10, 5, 8, 4, 2)
    # (GB 11714 sum mod 11, GB 32100 sum mod 31) -> how many organisation codes give it.
    states = {(0, base % 31): 1}
    for org_weight, weight in zip(org_weights, documents.USCC_WEIGHTS[8:16]):
        step = {}
        for (org_sum, sum31), ways in states.items():
            for digit in range(10):
                key = ((org_sum + digit * org_weight) % 11, (sum31 + digit * weight) % 31)
                step[key] = step.get(key, 0) + ways
        states = step
    candidates = 0
    for (org_sum, sum31), ways in states.items():
        org_check = {10: "X", 11: "0"}.get(11 - org_sum, str(11 - org_sum))
        total = sum31 + value(org_check) * documents.USCC_WEIGHTS[16]
        if documents.USCC_ALPHABET[(31 - total % 31) % 31] == masked[17]:
            candidates += ways
    # 10^8 organisation codes, one in 31 with the shown check character: about 3.2 million.
    assert candidates >= MIN_CANDIDATES


# Where 0 is in scripts whose digits people may type or paste: Arabic-Indic, Extended
# Arabic-Indic (Persian, Urdu), Devanagari, Bengali, Thai, Tibetan and Mongolian.
ZEROS = {"arabic-indic": 0x660, "extended arabic-indic": 0x6F0, "devanagari": 0x966,
         "bengali": 0x9E6, "thai": 0xE50, "tibetan": 0xF20, "mongolian": 0x1810}


def in_script(text, zero):
    """Return ``text`` with its ASCII digits written in the script whose 0 is ``zero``."""
    return text.translate({ord("0") + i: zero + i for i in range(10)})


@pytest.mark.parametrize("script", ZEROS)
@pytest.mark.parametrize(
    ("document_type", "number"),
    [("id_card", "540102199001011233"), ("id_card", "11010519491231002X"),
     ("business_license", "91350100M000100Y43"), ("birth_certificate", "T540059774"),
     ("police_id", "397403"), ("other", "ZANG-A12345")],
)
def test_digits_of_every_script_are_stored_as_ascii(document_type, number, script):
    typed = in_script(number, ZEROS[script])
    assert typed != number
    assert check_number(document_type, typed) == number
    assert documents.normalize_number(typed) == number


def test_digits_are_folded_before_spaces_and_case():
    typed = "t " + in_script("5400 59774", ZEROS["arabic-indic"]) + "\u3000\u200b"
    assert documents.normalize_number(typed) == "T540059774"
