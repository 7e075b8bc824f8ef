"""Write bench/RESULTS.md from the figures the benchmarks of this run left in bench/results/."""
import json
import os
import platform
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def load(name):
    with open(os.path.join(RESULTS, name)) as f:
        return json.load(f)


def before(name):
    """Return the figures of the run before the live tier and the page caches, or None."""
    path = os.path.join(RESULTS, "before", name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _ms(c):
    return f"{c['median_ms']:.1f} / {c['p95_ms']:.1f}"


def scope_section(peers, old):
    by_status = peers.get("board_by_status")
    if not by_status:
        return []
    classes = list(by_status["active"])
    old_board = old["engines"]["board"]["classes"] if old else {}
    lines = [
        f"## The board's search by scope at {peers['n']:,} notices",
        "",
        "Median / p95 latency (ms) of the first page of 20, each query with its type filter. "
        "*Before*: the single index of the previous release (its benchmark searched every "
        "notice, as *all* does now). *Default*: what `/search` does unless asked otherwise, the "
        "notices in an open window, read from the live tier alone.",
        "",
        "| class | before | default (active) | archive | all | mean matches: default / archive / all |",
        "|---|---|---|---|---|---|",
    ]
    for cls in classes:
        cells = [_ms(old_board[cls]) if cls in old_board else "-"]
        cells += [_ms(by_status[s][cls]) for s in ("active", "archived", "all")]
        totals = " / ".join(f"{by_status[s][cls]['mean_total']:.0f}" for s in ("active", "archived", "all"))
        lines.append(f"| {cls} | " + " | ".join(cells) + f" | {totals} |")
    worst = {s: max(c["p95_ms"] for c in by_status[s].values()) for s in by_status}
    lines += [
        "",
        "![p95 latency by query class: default, archive and all](results/search_scopes.png)",
        "",
        f"Targets: default search p95 ≤ 10 ms in every class — worst class {worst['active']:.1f} ms "
        f"({'met' if worst['active'] <= 10 else 'missed'}); archive and all, aim ≤ 30 ms — worst "
        f"{worst['archived']:.0f} ms and {worst['all']:.0f} ms.",
    ]
    return lines + postgresql_scope_lines(peers, by_status)


def postgresql_scope_lines(peers, whoosh):
    """Return the PostgreSQL engine's latency by scope beside Whoosh's, if it was measured."""
    by_status = peers.get("postgresql_by_status")
    if not by_status:
        return []
    lines = [
        "",
        "The same queries through the PostgreSQL engine (`FLASK_SEARCH_ENGINE=postgresql`), "
        "Whoosh's figures from the table above beside them: median / p95 ms.",
        "",
        "| class | default: Whoosh | default: PostgreSQL | archive: Whoosh | archive: PostgreSQL "
        "| all: Whoosh | all: PostgreSQL |",
        "|---|---|---|---|---|---|---|",
    ]
    for cls in by_status["active"]:
        cells = [_ms(engine[s][cls]) for s in ("active", "archived", "all") for engine in (whoosh, by_status)]
        lines.append(f"| {cls} | " + " | ".join(cells) + " |")
    return lines


def search_section(peers, old):
    engines = peers["engines"]
    classes = list(next(iter(engines.values()))["classes"])
    lines = [
        f"## Search at {peers['n']:,} notices, beside other engines",
        "",
        "Median / p95 latency of the first page of 20 (ms), and recall / precision against a "
        "substring truth set, the same queries for every engine "
        f"({peers['queries_per_class']} per class; mostly over every notice, some active only).",
        "",
        "| class | " + " | ".join(engines) + " |",
        "|---|" + "---|" * len(engines),
    ]
    for cls in classes:
        cells = []
        for figures in engines.values():
            c = figures["classes"][cls]
            cells.append(f"{c['median_ms']:.1f} / {c['p95_ms']:.1f} ms, R {c['recall']:.2f} P {c['precision']:.2f}")
        lines.append(f"| {cls} | " + " | ".join(cells) + " |")
    old_build = old["engines"]["board"]["build_seconds"] if old else None
    lines += ["", "| engine | index build | index size |", "|---|---|---|"]
    for name, figures in engines.items():
        was = f" (before: {old_build:.0f} s)" if name == "board" and old_build else ""
        lines.append(f"| {name} | {figures['build_seconds']:.1f} s{was} | {figures['size_bytes'] / 1e6:.0f} MB |")
    corpus = peers.get("corpus", {})
    if "import_seconds" in corpus:
        lines += [
            "",
            f"The corpus was loaded by the bulk import (`flask import-notices`' code, every line "
            f"validated as a submission is): {corpus['n']:,} notices in "
            f"{corpus['import_seconds']:.1f} s, {corpus['import_per_second']:.0f} a second, "
            "before the index build above.",
        ]
    best_recall = max(
        min(c["recall"] for c in f["classes"].values()) for n, f in engines.items() if n != "board"
    )
    board = engines["board"]["classes"]
    lines += [
        "",
        "![p95 latency by query class and engine](results/search_latency.png)",
        "",
        f"Targets: recall ≥ the best peer's ({best_recall:.2f}) — board's lowest "
        f"{min(c['recall'] for c in board.values()):.2f}; full reindex < 60 s — "
        f"{engines['board']['build_seconds']:.0f} s.",
    ]
    return lines


def serving_section(serving, old):
    old_pages = old["pages"] if old else {}
    lines = [
        f"## Serving at {serving['notices']:,} notices",
        "",
        f"gunicorn with `gunicorn.conf.py` (4 sync workers, preloaded), wrk on loopback, "
        f"{serving['connections']} connections for {serving['seconds']} s per page. "
        "Ratios are to /healthz of the same app in the same run. *Mixed classes*: the search "
        "benchmark's queries in turn, as the default search; workers keep search pages, so "
        "after the first round these are answered from the kept pages. *Each asked once*: the "
        "same searches, each spelled differently every time (separators added after the "
        "words), so that every request is a search no worker has kept.",
        "",
        "| page | req/s | p95 | of trivial | before | non-2xx |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in serving["pages"].items():
        was = old_pages.get(name)
        was = f"{was['ratio']:.0%} ({was['rps']:.0f} req/s)" if was else "-"
        lines.append(f"| {name} | {f['rps']:.0f} | {f['p95_ms']:.1f} ms | {f['ratio']:.0%} | {was} | {f['non_2xx']} |")
    pages = serving["pages"]
    rss = serving["worker_rss_mb"]
    lines += [
        "",
        f"Memory per worker after {serving.get('searches_before_memory', 0):,} mixed searches: "
        f"{', '.join(f'{m:.0f}' for m in rss)} MB"
        + (f" (before: {', '.join(f'{m:.0f}' for m in old['worker_rss_mb'])} MB after a few)" if old else "")
        + f". First answer {serving['first_answer_s']:.2f} s after start.",
        "",
        f"Targets: search page, mixed classes ≥ 25% of trivial — "
        f"{pages['search page, mixed classes']['ratio']:.0%}"
        + (f" (each asked once: {fresh['ratio']:.0%})"
           if (fresh := pages.get("search page, mixed classes, each asked once")) else "")
        + f"; front page, type list and API list "
        f"≥ 50% — {pages['front page']['ratio']:.0%}, {pages['type list']['ratio']:.0%}, "
        f"{pages['API list']['ratio']:.0%}; notice page ≥ 60% — {pages['notice page']['ratio']:.0%}; "
        f"worker < 200 MB — largest {max(rss):.0f} MB; first answer < 2 s — "
        f"{serving['first_answer_s']:.2f} s.",
    ]
    return lines


def nodes_section(nodes):
    counts = sorted(nodes["servers"], key=int)
    names = list(nodes["servers"][counts[0]])
    lines = [
        f"## Several servers: PostgreSQL behind nginx at {nodes['notices']:,} notices",
        "",
        f"The corpus copied into PostgreSQL and searched with its engine; each app server is "
        f"gunicorn with {nodes['workers_per_server']} workers, nginx round-robin in front, wrk "
        f"through nginx ({nodes['connections']} connections, {nodes['seconds']} s a page). "
        "Ratios are to /healthz through the same balancer in the same run. All servers share "
        "this machine's two cores: a second server here adds a balancer's choice and "
        "connections to the one database, not cores.",
        "",
        "| page | " + " | ".join(f"{c} server{'s' if c != '1' else ''}: req/s, p95, of trivial" for c in counts) + " |",
        "|---|" + "---|" * len(counts),
    ]
    for name in names:
        cells = []
        for count in counts:
            f = nodes["servers"][count][name]
            errors = f" ({f['non_2xx']} non-2xx)" if f["non_2xx"] else ""
            cells.append(f"{f['rps']:.0f}, {f['p95_ms']:.1f} ms, {f['ratio']:.0%}{errors}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main():
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M')} "
        f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}).",
        "",
    ]
    peers, old_peers = load("search_peers.json"), before("search_peers.json")
    lines += scope_section(peers, old_peers) + [""]
    lines += search_section(peers, old_peers) + [""]
    lines += serving_section(load("serving.json"), before("serving.json")) + [""]
    if os.path.exists(os.path.join(RESULTS, "nodes.json")):
        lines += nodes_section(load("nodes.json")) + [""]
    notes = os.path.join(HERE, "NOTES.md")
    if os.path.exists(notes):
        with open(notes) as f:
            lines += [f.read()]
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))
    print("wrote bench/RESULTS.md")


if __name__ == "__main__":
    main()
