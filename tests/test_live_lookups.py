"""An enumeration of a masked ID number against the board under gunicorn, as an attacker would
run it: many threads, every lookup path, one address and then a botnet of them.

Four workers count in one Redis, so the limits hold whichever worker answers. The attacker
knows the masked number, the holder's county and year of birth, and tries every number that
fits, nearest dates first; the board's budgets end the attempt long before the real one.
"""
import concurrent.futures
import json
from datetime import date
from datetime import timedelta

import pytest
from live import Client
from live import LiveBoard
from live import seed_submission

from notices import documents

ID_NUMBER = "540102199006151235"
PER_ADDRESS = 20
DAILY_MISSES = 60
PATHS = ["/lost", "/api/v1/lost-documents", "/search", "/api/v1/notices"]


def fitting(masked, county="540102", year=1990):
    """Yield every ID number of ``year`` in ``county`` that fits ``masked``, in date order."""
    day = date(year, 1, 1)
    while day.year == year:
        for serial in range(1000):
            first17 = f"{county}{day:%Y%m%d}{serial:03d}"
            number = first17 + documents.id_card_check_char(first17)
            if documents.mask_number("id_card", number) == masked:
                yield number
        day += timedelta(days=1)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    # One trusted proxy: X-Forwarded-For names the client, as behind nginx, so a test can be
    # many addresses at once.
    env = {
        "FLASK_LOOKUP_RATE_LIMIT": f"{PER_ADDRESS} per hour",
        "FLASK_LOOKUP_DAILY_MISSES": str(DAILY_MISSES),
        "FLASK_TRUSTED_PROXIES": "1",
    }
    with LiveBoard(tmp_path_factory.mktemp("lookups"), env=env) as live:
        client = Client(live.base_url)
        item = {"owner_name": "", "document_type": "id_card", "document_number": ID_NUMBER}
        created = client.submit_api(seed_submission("loss_declaration", items=[item]))
        assert created.status == 201, created.text
        assert client.login()
        response, flashes = client.approve(created.json()["ref"])
        assert response.status == 302 and flashes and flashes[0][0] == "success", flashes
        yield live


def ask(board, path, number, address):
    """Look ``number`` up at ``path`` as ``address``; return (status, declared?)."""
    key = "number" if "lost" in path else "q"
    params = {key: number, **({} if "lost" in path else {"status": "all"})}
    response = Client(board.base_url, timeout=30).get(
        path, params=params, headers={"X-Forwarded-For": address},
    )
    if response.status != 200:
        return response.status, False
    if path.startswith("/api/"):
        body = response.json()
        declared = bool(body["items"])
    else:
        declared = "没有查到" not in response.text and "找到 0" not in response.text \
            and (documents.mask_number("id_card", ID_NUMBER) in response.text)
    return response.status, declared


def attack(board, numbers, addresses, threads=8):
    """Try ``numbers`` over every path from ``addresses`` in parallel; return the outcomes."""
    jobs = [
        (PATHS[i % len(PATHS)], number, addresses[i % len(addresses)])
        for i, number in enumerate(numbers)
    ]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda job: (job[1], *ask(board, *job)), jobs))


def test_an_enumeration_recovers_nothing_within_its_budget(board):
    masked = documents.mask_number("id_card", ID_NUMBER)
    candidates = [n for n in fitting(masked) if n != ID_NUMBER]
    # The real number's place among the candidates, had the attacker the patience.
    position = sorted([*candidates, ID_NUMBER]).index(ID_NUMBER)

    # One address: answered PER_ADDRESS times, then refused, whichever worker answers.
    alone = attack(board, candidates[:PER_ADDRESS * 3], ["198.51.100.1"])
    answered = [o for o in alone if o[1] == 200]
    assert len(answered) == PER_ADDRESS
    assert {o[1] for o in alone} == {200, 429}

    # A botnet: every request from a new address. The day's misses run out.
    botnet = [f"10.{i // 250}.{i % 250}.1" for i in range(2_000)]
    spread = attack(board, candidates[PER_ADDRESS * 3:PER_ADDRESS * 3 + 1_000], botnet)
    answered_misses = sum(1 for o in spread if o[1] == 200)
    assert answered_misses <= DAILY_MISSES - PER_ADDRESS + 8  # a few in flight as it ran out
    assert not [o for o in alone + spread if o[2]]

    # Now even the real number is refused, from anywhere, by every path: the budget cannot be
    # used to tell a hit from a miss.
    for path in PATHS:
        status, declared = ask(board, path, ID_NUMBER, "203.0.113.200")
        assert status == 429 and not declared
    refused = Client(board.base_url).get("/api/v1/lost-documents", params={"number": ID_NUMBER},
                                         headers={"X-Forwarded-For": "203.0.113.201"})
    assert "今天全站的证件号码查询已达上限" in json.loads(refused.text)["error"]
    page = Client(board.base_url).get("/lost", params={"number": ID_NUMBER},
                                      headers={"X-Forwarded-For": "203.0.113.202"})
    assert page.status == 429 and "今天全站的证件号码查询已达上限" in page.text
    # Searching for words is not a lookup and still works.
    words = Client(board.base_url).get("/search", params={"q": "遗失"},
                                       headers={"X-Forwarded-For": "203.0.113.203"})
    assert words.status == 200
    print(f"\n{len(candidates) + 1} numbers fit {masked} in one year of birth; the real one is "
          f"number {position + 1}. Tried {len(alone) + len(spread)}: "
          f"{len(answered) + answered_misses} answered, nothing found.")
