"""Serving on PostgreSQL through a load balancer: one app server, then two.

The corpus's notices are copied into a throwaway PostgreSQL cluster (Debian's, as the tests
start it) and searched with the PostgreSQL engine; each app server is gunicorn with
``gunicorn.conf.py`` (4 workers), and nginx balances round-robin in front, as README's
"Several servers" sets it up. Every page's throughput is a ratio to /healthz through the same
balancer in the same run. On one machine two servers share its cores: the figures say what
the balancer and the shared database cost, not what a second machine would add.

Run: .venv/bin/python bench/nodes.py --db bench/.cache/100000/bench.db
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from live import Balancer  # noqa: E402

from bench.search_peers import Postgres  # noqa: E402
from bench.serving import corpus_pages  # noqa: E402
from bench.serving import free_port  # noqa: E402
from bench.serving import measure  # noqa: E402
from notices import create_app  # noqa: E402
from notices import expiry  # noqa: E402

WORKERS = 4
# The pages of serving.py measured here: the trivial one first, the ratios' base.
PAGES = ("trivial (/healthz)", "notice page", "front page", "API list", "search page",
         "search page, mixed classes")


def start_server(url, port):
    env = dict(
        os.environ,
        FLASK_SQLALCHEMY_DATABASE_URI=url,
        FLASK_SECRET_KEY="bench",
        FLASK_SEARCH_ENGINE="postgresql",
        BIND=f"127.0.0.1:{port}",
        FLASK_PUBLIC_URL="http://127.0.0.1",
        FLASK_TRUSTED_PROXIES="1",
        WEB_CONCURRENCY=str(WORKERS),
        # The pages measured here have no rate limits; no Redis is needed to measure them.
        FLASK_RATELIMIT_ENABLED="false",
    )
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-c", "gunicorn.conf.py",
         "app:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.perf_counter() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            if time.perf_counter() > deadline:
                server.kill()
                raise RuntimeError("gunicorn did not answer within 60 s")
            time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="the corpus's SQLite database")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "nodes.json"))
    args = parser.parse_args()
    searches = os.path.join(HERE, "results", "mixed_searches.txt")
    fresh = os.path.join(HERE, "results", "fresh_searches.txt")
    notices, every_page = corpus_pages(args.db, searches, fresh)
    pages = {name: every_page[name] for name in PAGES}
    source = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{os.path.abspath(args.db)}",
                         "SEARCH_INDEX_ON_COMMIT": False})
    today = expiry.board_today(expiry.utcnow())
    started = time.perf_counter()
    database = Postgres(source, today)
    built = database.build(None)
    print(f"{notices} notices copied into PostgreSQL and indexed in "
          f"{time.perf_counter() - started:.0f} s (search rows {built['build_seconds']:.0f} s)")
    url = database.app.config["SQLALCHEMY_DATABASE_URI"]
    report = {"notices": notices, "workers_per_server": WORKERS, "seconds": args.seconds,
              "connections": args.connections, "built_on": date.today().isoformat(),
              "servers": {}}
    try:
        for count in (1, 2):
            ports = [free_port() for _ in range(count)]
            servers = [start_server(url, port) for port in ports]
            try:
                with tempfile.TemporaryDirectory(prefix="board-nginx-") as tmp, \
                        Balancer(tmp, ports) as balancer:
                    results = measure(balancer.base_url, pages, args.seconds,
                                      args.connections, searches, fresh)
            finally:
                for server in servers:
                    server.send_signal(signal.SIGTERM)
                for server in servers:
                    server.wait(timeout=30)
            report["servers"][str(count)] = results
            print(f"{count} server(s) behind nginx:")
            for name, f in results.items():
                print(f"  {name:28} {f['rps']:8.1f} req/s  p95 {f['p95_ms']:7.1f} ms  "
                      f"{f['ratio']:5.0%} of trivial  non-2xx {f['non_2xx']}")
    finally:
        database.cluster.stop()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
