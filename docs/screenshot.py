"""Take the README's screenshots of the front page, loaded with the seed notices.

Run from the repository root: ``python docs/screenshot.py``. It builds a throwaway app with
its own SQLite database, serves it on a free local port and drives Debian's Chromium.
"""
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
from notices import seeds  # noqa: E402
from notices.extensions import db  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SHOTS = {
    "front-page.png": {"viewport": {"width": 1280, "height": 900}},
    "front-page-phone.png": {
        "viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2,
    },
}


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


def main():
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
                for name, device in SHOTS.items():
                    context = browser.new_context(**device)
                    page = context.new_page()
                    page.goto(f"http://127.0.0.1:{httpd.server_port}/", wait_until="networkidle")
                    page.screenshot(path=REPO / "docs" / name, full_page=True)
                    context.close()
                    print(f"wrote docs/{name}")
                browser.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
            with app.app_context():
                db.engine.dispose()


if __name__ == "__main__":
    main()
