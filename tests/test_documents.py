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


def test_id_cards_are_masked_to_six_and_four():
    assert documents.mask_number("id_card", "540102199001011233") == "540102********1233"
    assert documents.mask_number("police_id", "397403") == "397403"
    assert documents.mask_number("birth_certificate", "T540059774") == "T540059774"


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
