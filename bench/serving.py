"""Serving benchmark: the board under gunicorn with its production settings, loaded by wrk.

Each page's throughput is reported as a ratio to /healthz, a trivial endpoint of the same
app measured in the same run: the framework's ceiling on this machine.

Run: .venv/bin/python bench/serving.py --db bench/.cache/100000/board.db --index bench/.cache/100000/index
"""
import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUA = os.path.join(ROOT, "bench", "p95.lua")
MIXED_LUA = os.path.join(ROOT, "bench", "mixed.lua")
FRESH_LUA = os.path.join(ROOT, "bench", "fresh.lua")
THREADS = 2
# gunicorn.conf.py's default.
WORKERS = 4
# Each mixed query spelled this many ways for the row of queries not asked before: more than
# wrk can ask in a run at the uncached rate.
SPELLINGS = 200
# Searches before the workers' memory is read: what a day of readers leaves behind.
SEARCHES_BEFORE_MEMORY = 10_000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db, index, port):
    env = dict(
        os.environ,
        FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{os.path.abspath(db)}",
        FLASK_SEARCH_INDEX_DIR=os.path.abspath(index),
        FLASK_SECRET_KEY="bench",
        BIND=f"127.0.0.1:{port}",
        FLASK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        # The pages measured here have no rate limits; no Redis is needed to measure them.
        FLASK_RATELIMIT_ENABLED="false",
    )
    # A cached corpus may predate the latest migration.
    subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "app", "init-db"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )
    started = time.perf_counter()
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return server, time.perf_counter() - started
        except OSError:
            if time.perf_counter() - started > 60:
                server.kill()
                raise RuntimeError("gunicorn did not answer within 60 s")
            time.sleep(0.02)


def settle(base):
    """Wait until the workers have finished what wrk left queued."""
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        urllib.request.urlopen(base + "/healthz", timeout=120).read()
        if time.perf_counter() - started < 0.05:
            return
        time.sleep(0.5)


def worker_memory(server):
    """Return the resident memory of each worker, in MB (children of the master)."""
    children = subprocess.run(
        ["ps", "-o", "pid=,rss=", "--ppid", str(server.pid)], capture_output=True, text=True
    ).stdout.split()
    return [int(rss) / 1024 for rss in children[1::2]]


def wrk(url, seconds, connections, paths=None, fresh=False):
    """Load ``url`` (or, with ``paths``, each of those paths on it in turn; with ``fresh``,
    each at most once) with wrk."""
    env = dict(os.environ, PATHS=paths, THREADS=str(THREADS)) if paths else None
    script = (FRESH_LUA if fresh else MIXED_LUA) if paths else LUA
    out = subprocess.run(
        ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
         "-s", script, url],
        capture_output=True, text=True, check=True, env=env,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p95 = float(re.search(r"p95_us=([\d.]+)", out).group(1)) / 1000
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = re.search(r"(\d+) requests in", out)
    figures = {"rps": rps, "p95_ms": p95, "non_2xx": int(errors.group(1)) if errors else 0,
               "requests": int(requests.group(1)) if requests else 0}
    if fresh:
        paths_listed = int(re.search(r"paths=(\d+)", out).group(1))
        if figures["requests"] > paths_listed:
            raise RuntimeError(f"wrk asked {figures['requests']} of {paths_listed} fresh searches: "
                               "some were asked twice; raise SPELLINGS")
    return figures


def measure(base, pages, seconds, connections, searches, fresh):
    """Load each of ``pages`` ({name: path, or ``searches``, the file of mixed searches, or
    ``fresh``, the file of searches asked once each}) on ``base`` in turn; return {name:
    figures}, each with its ratio to the first page's rate."""
    results = {}
    for name, path in pages.items():
        if path == fresh:
            # Warmed by the mixed searches, so that no fresh search is asked before it is timed.
            wrk(base + "/", 2, connections, searches)
            results[name] = wrk(base + "/", seconds, connections, fresh, fresh=True)
            settle(base)
            continue
        target, paths = (base + "/", path) if path == searches else (base + path, None)
        warmed = wrk(target, 2, connections, paths)["requests"]  # warm every worker before timing
        if path == searches:
            # Until each worker could have answered every search once (and kept it): on a
            # busy machine two seconds are not one round.
            with open(searches) as f:
                rounds = WORKERS * sum(1 for _ in f)
            deadline = time.perf_counter() + 300
            while warmed < rounds and time.perf_counter() < deadline:
                warmed += wrk(target, 5, connections, paths)["requests"]
        results[name] = wrk(target, seconds, connections, paths)
        settle(base)
    ceiling = next(iter(results.values()))["rps"]
    for figures in results.values():
        figures["ratio"] = figures["rps"] / ceiling
    return results


def mixed_searches(db, path, fresh):
    """Write the default searches of every query class (the search benchmark's own queries) to
    ``path``, one URL path a line, and return how many; and to ``fresh`` the same searches
    each spelled SPELLINGS ways, in turn, none twice.

    A spelling adds separators the search splits words at (commas, 、, ; and 。) after the
    words: the same search and the same page to make, which no kept page answers."""
    import urllib.parse

    sys.path[:0] = [ROOT, os.path.join(ROOT, "bench")]
    from bench import corpus
    from bench.search_peers import make_queries

    with sqlite3.connect(db) as conn:
        # The board keeps only hashes of the numbers: they are the bench corpus's own.
        count = conn.execute("SELECT count(*) FROM notice").fetchone()[0]
        kinds = sorted(k for (k,) in conn.execute("SELECT DISTINCT kind FROM notice"))
    numbers = corpus.declared_numbers(count)
    queries = make_queries(20, numbers, kinds)
    lines = [
        "/search?" + urllib.parse.urlencode({"q": q.text, **({"type": q.kind} if q.kind else {})})
        for q in queries
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    separators = ",、;。,"
    spellings = []
    for n in range(1, SPELLINGS + 1):
        digits = []
        while n:
            n, digit = divmod(n, len(separators))
            digits.append(separators[digit])
        spellings.append("".join(digits))
    with open(fresh, "w") as f:
        for spelling in spellings:
            for q in queries:
                params = {"q": q.text + " " + spelling, **({"type": q.kind} if q.kind else {})}
                f.write("/search?" + urllib.parse.urlencode(params) + "\n")
    return len(lines)


def corpus_pages(db, searches, fresh):
    """Return the corpus's number of notices and the pages measured on it ({name: path}),
    the mixed searches written to the file ``searches`` and named by it, and those asked
    once each to ``fresh``."""
    with sqlite3.connect(db) as conn:
        ref, = conn.execute(
            "SELECT ref FROM notice WHERE status = 'published' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        notices = conn.execute("SELECT count(*) FROM notice").fetchone()[0]
    mixed_searches(db, searches, fresh)
    # Slow pages last: requests wrk leaves queued in the workers would hold up the next page.
    return notices, {
        "trivial (/healthz)": "/healthz",
        "notice page": f"/notices/{ref}",
        "front page": "/",
        "type list": "/types/loss_declaration",
        "archive": "/archive",
        "API list": "/api/v1/notices?per_page=20",
        "API search": "/api/v1/notices?q=%E9%81%93%E8%B7%AF%E7%A1%AC%E5%8C%96",
        "search page": "/search?q=%E5%B7%A5%E8%B5%84+%E6%8B%89%E8%90%A8",
        "search page, mixed classes": searches,
        "search page, mixed classes, each asked once": fresh,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "serving.json"))
    parser.add_argument("--pages", help="only these pages, by name, separated by semicolons (the trivial "
                        "endpoint is always measured, first)")
    args = parser.parse_args()
    port = free_port()
    server, first_answer = start(args.db, args.index, port)
    base = f"http://127.0.0.1:{port}"
    searches = os.path.join(os.path.dirname(args.out), "mixed_searches.txt")
    fresh = os.path.join(os.path.dirname(args.out), "fresh_searches.txt")
    notices, pages = corpus_pages(args.db, searches, fresh)
    if args.pages:
        chosen = {"trivial (/healthz)", *args.pages.split(";")}
        pages = {name: path for name, path in pages.items() if name in chosen}
    try:
        results = measure(base, pages, args.seconds, args.connections, searches, fresh)
        # Then enough mixed searches that each worker has answered thousands.
        done = results["search page, mixed classes"]["requests"]
        while done < SEARCHES_BEFORE_MEMORY:
            seconds = max(5, int((SEARCHES_BEFORE_MEMORY - done) / max(results["search page, mixed classes"]["rps"], 1)) + 1)
            done += wrk(base + "/", seconds, args.connections, searches)["requests"]
            settle(base)
        memory = worker_memory(server)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    report = {"notices": notices, "first_answer_s": first_answer, "worker_rss_mb": memory,
              "searches_before_memory": done,
              "seconds": args.seconds, "connections": args.connections, "pages": results}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
    print(f"{notices} notices; first answer {first_answer:.2f} s after start; "
          f"worker RSS {', '.join(f'{m:.0f}' for m in memory)} MB")
    for name, f in results.items():
        print(f"{name:44} {f['rps']:8.1f} req/s  p95 {f['p95_ms']:7.1f} ms  "
              f"{f['ratio']:5.0%} of trivial  non-2xx {f['non_2xx']}")


if __name__ == "__main__":
    main()
