"""Take screenshots of the board, loaded with the seed notices, in Debian's Chromium.

Run from the repository root:
- ``python docs/screenshot.py`` writes the README's front-page screenshots into docs/;
- ``python docs/screenshot.py --forms DIR`` writes each submission form on a phone and on a
  desktop into DIR, for looking at the layout (not kept in the repository).

It builds a throwaway app with its own SQLite database and serves it on a free local port.
"""
import argparse
import pathlib
import sys
import tempfile
import threading

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import flask_migrate  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from notices import accounts  # noqa: E402
from notices import create_app  # noqa: E402
from notices import expiry  # noqa: E402
from notices import kinds  # noqa: E402
from notices import seeds  # noqa: E402
from notices.extensions import db  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2}


def build_app(tmp):
    """Return an app on a fresh, migrated database holding the seed notices, re-dated to today."""
    app = create_app({
        "SECRET_KEY": "screenshot",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'board.db'}",
        "SEARCH_INDEX_DIR": str(tmp / "index"),
    })
    with app.app_context():
        flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
        editor = accounts.create_user("shot-editor", "a-long-password-123", role="editor")
        seeds.load(editor, now=expiry.utcnow())
    return app


def shoot(shots):
    """Take each (path on the board, device, file) in ``shots``."""
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(pathlib.Path(tmp))
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                for path, device, out in shots:
                    context = browser.new_context(**device)
                    page = context.new_page()
                    page.goto(f"http://127.0.0.1:{httpd.server_port}{path}", wait_until="networkidle")
                    page.screenshot(path=out, full_page=True)
                    context.close()
                    print(f"wrote {out}")
                browser.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
            with app.app_context():
                db.engine.dispose()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", metavar="DIR", help="shoot the submission forms into DIR")
    args = parser.parse_args()
    if args.forms:
        out = pathlib.Path(args.forms)
        out.mkdir(parents=True, exist_ok=True)
        shoot([
            (f"/submit/{code}", device, out / f"{code}-{name}.png")
            for name, device in (("phone", PHONE), ("desktop", DESKTOP))
            for code in kinds.KINDS
        ])
    else:
        shoot([
            ("/", DESKTOP, REPO / "docs" / "front-page.png"),
            ("/", PHONE, REPO / "docs" / "front-page-phone.png"),
        ])


if __name__ == "__main__":
    main()
