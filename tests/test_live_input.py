"""What people type, against the board under gunicorn: the worst input for the patterns that
once backtracked, and names hiding invisible characters.

Like tests/test_live.py, it serves a fresh board with the production settings (tests/live.py)
and talks to it over loopback HTTP only; it prints its figures (``pytest -s``).
"""
import re
import secrets
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor

from live import CONNECTION_ERRORS
from live import LOAD_LIMITS
from live import Client
from live import LiveBoard
from live import field_names
from live import seed_submission
from test_security import WORST_CASES
from test_security import as_posted
from test_security import worst_value

from notices import kinds
from notices import services

REF = re.compile(r"\b[A-Z]{2}-\d{8}-[0-9A-Z]{5}\b")
THREADS = 8


def multipart(pairs):
    """Return (body, content type) of a form posted as multipart/form-data.

    Unlike a urlencoded form, multipart sends each character as itself: the most of a
    pattern's worst case a request of a given size can carry.
    """
    boundary = "board-" + secrets.token_hex(12)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode() + b"\r\n"
        for name, value in pairs
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def preview_pairs(code, name, value):
    """Return a valid submission of ``code`` as its form posts it, with ``name`` set to ``value``."""
    data = {k: v for k, v in seed_submission(code).items() if k != "type"}
    pairs = [(k, v) for k, v in services.flatten(data) if k != name]
    return [*pairs, (name, value), ("action", "preview")]


def test_worst_input_in_every_preview_and_invisible_characters_under_gunicorn(tmp_path):
    """Each pattern's worst case (a request just under 256 KB) in every field of every type's
    preview, from 8 threads at once: every one answered with a 4xx within 2 s, and /healthz
    answering within 1 s meanwhile. Then a loss declaration whose names hide bidi overrides
    and zero-width characters is approved by the editor, found by search with and without
    them, and shown without them."""
    with LiveBoard(tmp_path / "board", env=LOAD_LIMITS) as board:
        reader = Client(board.base_url)
        jobs = [
            (code, name, case)
            for code in kinds.KINDS
            for name in field_names(reader.get(f"/submit/{code}").text)
            for case in WORST_CASES
        ]
        local = threading.local()
        answers, failures, lock = [], [], threading.Lock()

        def send(job):
            code, name, case = job
            if not hasattr(local, "client"):
                local.client = Client(board.base_url, timeout=30)
                local.token = local.client.csrf_token(f"/submit/{code}")
            value = worst_value(case, as_posted)
            body, content_type = multipart([("csrf_token", local.token),
                                            *preview_pairs(code, name, value)])
            started = time.monotonic()
            try:
                response = local.client.post(f"/submit/{code}", body=body,
                                             headers={"Content-Type": content_type})
            except CONNECTION_ERRORS as error:
                with lock:
                    failures.append(f"{code} {name} {case}: {error!r}")
                return
            with lock:
                answers.append((time.monotonic() - started, response.status, f"{code} {name} {case}",
                                len(body)))

        health, attacking = [], threading.Event()

        def watch():
            client = Client(board.base_url, timeout=30)
            while attacking.is_set():
                started = time.monotonic()
                try:
                    status = client.get("/healthz").status
                except CONNECTION_ERRORS as error:
                    status = repr(error)
                health.append((time.monotonic() - started, status))
                time.sleep(0.05)

        attacking.set()
        watcher = threading.Thread(target=watch)
        watcher.start()
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(send, jobs))
        finally:
            attacking.clear()
            watcher.join()
        took = time.monotonic() - started

        slowest = max(answers, default=(0, 0, "nothing", 0))
        sizes = [size for *_, size in answers] or [0]
        statuses = sorted({status for _, status, _, _ in answers})
        print(f"\nworst input: {len(jobs)} previews of {min(sizes) // 1024}-{max(sizes) // 1024} KB "
              f"from {THREADS} threads in {took:.1f} s; statuses {statuses}; {len(failures)} lost; "
              f"slowest {slowest[0]:.2f} s ({slowest[2]}); /healthz asked {len(health)} times, "
              f"slowest {max((h[0] for h in health), default=0):.2f} s")
        assert not failures, failures[:10] + [board.error_log_tail()]
        assert len(answers) == len(jobs)
        assert all(400 <= status < 500 and status != 413 for _, status, _, _ in answers), statuses
        slow = [f"{what}: {seconds:.2f} s" for seconds, _, what, _ in answers if seconds >= 2]
        assert not slow, slow[:10]
        assert health and all(status == 200 for _, status in health), health[:10]
        assert max(seconds for seconds, _ in health) < 1

        # Invisible characters in the names of a loss declaration, through the form.
        hidden = {
            "declarant": "\u202e扎西\u200b央珍\u202c",
            "items-0-owner_name": "\u2066巴登\u200d曲加\u2069\ufeff",
            "submitter_name": "扎西\u00ad央珍",
        }
        data = {k: v for k, v in seed_submission("loss_declaration").items() if k != "type"}
        pairs = [(k, hidden.get(k, v)) for k, v in services.flatten(data)]
        submitter = Client(board.base_url)
        preview, confirm = submitter.submit_form("loss_declaration", pairs)
        assert confirm is not None and confirm.status == 302, preview.text[:500]
        ref = REF.search(submitter.follow(confirm).text).group()
        editor = Client(board.base_url)
        assert editor.login()
        review = editor.get(f"/editor/notices/{ref}").text
        _, messages = editor.approve(ref)
        assert any(category == "success" for category, _ in messages), messages

        line = "扎西央珍不慎,将巴登曲加的出生医学证明(编号:T540059774)丢失,声明作废。"
        page = reader.get(f"/notices/{ref}").text
        api = reader.get(f"/api/v1/notices/{ref}").json()
        assert line in page and api["fields"]["declarant"] == "扎西央珍"
        assert api["fields"]["items"][0]["owner_name"] == "巴登曲加"
        for q in ("扎西央珍", "巴登曲加", "扎西\u200b央珍", "\u202e巴登曲加\u202c"):
            assert ref in reader.search(q).text, q
            assert [i["ref"] for i in reader.api_search(q).json()["items"]] == [ref], q
        for shown in (page, review, reader.search("扎西央珍").text, str(api)):
            invisible = {f"U+{ord(c):04X}" for c in shown if unicodedata.category(c) == "Cf"}
            assert not invisible, invisible
        count = sum(unicodedata.category(c) == "Cf" for value in hidden.values() for c in value)
        print(f"invisible characters: {ref} submitted with {count} in its names; published, "
              f"found and shown as 扎西央珍 / 巴登曲加 without them")
