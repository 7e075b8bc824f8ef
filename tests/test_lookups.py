"""Exact document-number lookups are limited per address and by a daily budget of misses.

A masked number leaves about 166,000 candidates (tests/test_documents.py); these limits keep
anyone from trying them through /lost, /api/v1/lost-documents or a search for a number.
"""
import json
from datetime import timedelta

import pytest
import time_machine

from notices import create_app
from notices import documents
from notices import expiry
from notices import lookups
from notices.extensions import limiter

ID_NUMBER = "540102199001011233"
PER_ADDRESS = 5
DAILY_MISSES = 8


def candidates(count):
    """Return ``count`` valid ID numbers that nobody declared, as an enumeration tries them."""
    numbers = []
    for serial in range(2, 1000):
        first17 = f"54010219900101{serial:03d}"
        numbers.append(first17 + documents.id_card_check_char(first17))
        if len(numbers) == count:
            return numbers
    raise AssertionError("not enough serials")


@pytest.fixture
def board(app, make_notice):
    """A board with limits on, as it runs for real, holding one declared ID number."""
    make_notice(
        "loss_declaration",
        day=expiry.board_today(expiry.utcnow()),
        items=[{"owner_name": "", "document_type": "id_card", "document_number": ID_NUMBER}],
    )
    limited = create_app({
        **app.config,
        "RATELIMIT_ENABLED": True,
        "LOOKUP_RATE_LIMIT": f"{PER_ADDRESS} per hour",
        "LOOKUP_DAILY_MISSES": DAILY_MISSES,
    })
    limiter.init_app(limited)
    # The in-memory store belongs to the one limiter every app shares: start from zero.
    limiter.reset()
    yield limited
    limiter.reset()


def lookup(client, how, number, address="198.51.100.1"):
    """Look ``number`` up one of the three ways; return the response."""
    environ = {"REMOTE_ADDR": address}
    if how == "page":
        return client.get("/lost", query_string={"number": number}, environ_base=environ)
    if how == "api":
        return client.get("/api/v1/lost-documents", query_string={"number": number},
                          environ_base=environ)
    if how == "search":
        return client.get("/search", query_string={"q": number, "status": "all"},
                          environ_base=environ)
    return client.get("/api/v1/notices", query_string={"q": number, "status": "all"},
                      environ_base=environ)


WAYS = ["page", "api", "search", "api-search"]


@pytest.mark.parametrize("how", WAYS)
def test_a_person_typing_one_real_number_is_answered(board, how):
    response = lookup(board.test_client(), how, ID_NUMBER)
    assert response.status_code == 200
    body = json.dumps(response.get_json(), ensure_ascii=False) if response.is_json \
        else response.get_data(as_text=True)
    assert "5401*************3" in body and "扎西央珍" in body


@pytest.mark.parametrize("how", WAYS)
def test_each_address_may_look_up_only_so_many_numbers(board, how):
    client = board.test_client()
    for number in candidates(PER_ADDRESS):
        assert lookup(client, how, number).status_code == 200
    refused = lookup(client, how, ID_NUMBER)
    assert refused.status_code == 429
    if how.startswith("api"):
        # The message, then the limit and when to try again.
        assert refused.get_json()["error"].startswith(lookups.PER_ADDRESS_MESSAGE + "上限为")
    else:
        assert "证件号码查询过于频繁" in refused.get_data(as_text=True)
    # Another address is still answered.
    assert lookup(client, how, ID_NUMBER, address="203.0.113.5").status_code == 200


def test_the_ways_share_one_count_per_address(board):
    client = board.test_client()
    for how, number in zip(WAYS * 2, candidates(PER_ADDRESS)):
        assert lookup(client, how, number).status_code == 200
    assert lookup(client, "page", ID_NUMBER).status_code == 429


def test_searching_for_words_or_an_empty_lookup_form_is_not_limited(board):
    client = board.test_client()
    for _ in range(PER_ADDRESS * 3):
        assert client.get("/search?q=扎西央珍").status_code == 200
        assert client.get("/api/v1/notices?q=遗失").status_code == 200
        assert client.get("/lost").status_code == 200
    assert lookup(client, "page", ID_NUMBER).status_code == 200


def test_the_board_answers_only_so_many_misses_a_day(board):
    client = board.test_client()
    # Hits do not count: people checking numbers that were declared never use up the budget.
    for i in range(DAILY_MISSES + 2):
        assert lookup(client, WAYS[i % 4], ID_NUMBER, address=f"192.0.2.{i}").status_code == 200
    # An enumeration spread over many addresses, each well under its own limit.
    for i, number in enumerate(candidates(DAILY_MISSES)):
        assert lookup(client, WAYS[i % 4], number, address=f"198.51.100.{i}").status_code == 200
    # Now every exact lookup is refused for the rest of the day, a real number included: an
    # answer for one and not the other would tell which is which.
    for how in WAYS:
        refused = lookup(client, how, ID_NUMBER, address="203.0.113.77")
        assert refused.status_code == 429
        body = refused.get_data(as_text=True)
        assert ("今天全站的证件号码查询已达上限" in body) or (refused.get_json() or {}).get(
            "error", "").startswith(lookups.DAILY_MESSAGE)
    # Searching for words still works.
    assert client.get("/search?q=扎西央珍", environ_base={"REMOTE_ADDR": "203.0.113.77"}).status_code == 200
    # The next day of the board's calendar starts a new budget.
    tomorrow = expiry.utcnow() + timedelta(days=1)
    with time_machine.travel(tomorrow, tick=False):
        assert lookup(client, "page", ID_NUMBER, address="203.0.113.78").status_code == 200


def test_an_enumeration_recovers_nothing_within_the_budget(board):
    """The attack the review made: try every birth date behind the mask until one is declared.

    With the mask at 4 + 1 and the budgets above, the attacker runs out long before the
    right number comes up.
    """
    client = board.test_client()
    masked = documents.mask_number("id_card", ID_NUMBER)
    found, refused, tried = [], 0, 0
    for serial in range(1000):
        for year in (1989, 1990):
            first17 = f"540102{year}0101{serial:03d}"
            number = first17 + documents.id_card_check_char(first17)
            if documents.mask_number("id_card", number) != masked or number == ID_NUMBER:
                continue
            tried += 1
            response = lookup(client, "api", number, address=f"10.0.{tried // 250}.{tried % 250}")
            if response.status_code == 429:
                refused += 1
            elif response.get_json()["items"]:
                found.append(number)
    assert tried > DAILY_MISSES * 10
    assert found == [] and refused == tried - DAILY_MISSES
