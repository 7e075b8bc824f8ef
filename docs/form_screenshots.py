"""Take full-page screenshots of the four submission forms, on a phone and on a desktop.

Run from the repository root: ``python docs/form_screenshots.py [OUT_DIR]`` (default
/tmp/shots). The screenshots are for looking at the layout; they are not kept in the
repository. Like docs/screenshot.py, it serves a throwaway app and drives Debian's Chromium.
"""
import pathlib
import sys
import tempfile
import threading

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402
from screenshot import CHROMIUM  # noqa: E402
from screenshot import CHROMIUM_ARGS  # noqa: E402
from screenshot import build_app  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from notices import kinds  # noqa: E402
from notices.extensions import db  # noqa: E402

DEVICES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2},
    "desktop": {"viewport": {"width": 1280, "height": 900}},
}


def main(out):
    out.mkdir(parents=True, exist_ok=True)
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
                for device_name, device in DEVICES.items():
                    context = browser.new_context(**device)
                    page = context.new_page()
                    for code in kinds.KINDS:
                        url = f"http://127.0.0.1:{httpd.server_port}/submit/{code}"
                        page.goto(url, wait_until="networkidle")
                        path = out / f"{code}-{device_name}.png"
                        page.screenshot(path=path, full_page=True)
                        print(f"wrote {path}")
                    context.close()
                browser.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
            with app.app_context():
                db.engine.dispose()


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/shots"))
