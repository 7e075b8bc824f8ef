"""The day's column for print: PDFs typeset by WeasyPrint, read back with poppler's pdftotext
and pdftoppm, as a newspaper's layout desk would open them."""
import re
import subprocess
from datetime import date
from datetime import timedelta

import pytest
import segno
from conftest import EDITOR_PASSWORD
from conftest import PUBLIC_URL

from notices import board
from notices import expiry
from notices import kinds
from notices import printing
from notices.accounts import create_user
from notices.extensions import db
from notices.extensions import limiter
from notices.models import Notice

DAY = date(2024, 3, 8)
ID_NUMBER = "540102199001011233"
SHOTS = "/work/shots/printday"


def login(client, username="editor", password=EDITOR_PASSWORD):
    response = client.post("/editor/login", data={"username": username, "password": password})
    assert response.status_code == 302
    return client


def pdf_text(body, tmp_path, body_only=False):
    """Return the text poppler reads from a PDF's bytes, in the order it was typeset (-raw):
    guessing the reading order of two columns, pdftotext interleaves them. ``body_only``
    leaves out the pages' margins (the header and footer repeated on every page), which would
    otherwise stand in the middle of a notice that runs on to the next page."""
    path = tmp_path / "column.pdf"
    path.write_bytes(body)
    # A4 in points; the body lies inside the 18 mm top and 16 mm bottom margins.
    crop = ["-x", "0", "-y", "52", "-W", "595", "-H", "744"] if body_only else []
    done = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", *crop, str(path), "-"],
                          capture_output=True, check=True, timeout=60)
    return done.stdout.decode()


def squeezed(text):
    """Return ``text`` without whitespace: the columns break lines where they must."""
    return re.sub(r"\s+", "", text)


def wording(app, ref):
    """Return a notice's canonical wording as its public page shows it, as one string."""
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        shown = board.show(notice, expiry.board_today(expiry.utcnow()))
        return "".join([shown.text.title, *(block.text for block in shown.text.blocks)])


def export(client, **args):
    return client.get("/editor/print", query_string=args)


@pytest.fixture
def day_of_each_kind(make_notice):
    """One notice of each type published on DAY, in the reverse of the column's order (a loss
    declaration of a full ID number among them), and one the next day."""
    made = {}
    for code in reversed(list(kinds.KINDS)):
        extra = {}
        if code == "loss_declaration":
            extra["items"] = [{"owner_name": "", "document_type": "id_card",
                               "document_number": ID_NUMBER}]
        made[code] = make_notice(code, day=DAY, **extra).ref
    made["next day"] = make_notice("loss_declaration", day=DAY + timedelta(days=1), index=1).ref
    return made


def test_the_pdf_holds_every_notice_word_for_word_in_the_columns_order(
        app, client, editor, day_of_each_kind, tmp_path):
    response = export(login(client), date_from="2024-03-08")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'inline; filename="column-2024-03-08.pdf"'
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data()
    assert body.startswith(b"%PDF-")
    flat = squeezed(pdf_text(body, tmp_path, body_only=True))
    positions = []
    for code, kind in kinds.KINDS.items():
        ref = day_of_each_kind[code]
        words = squeezed(wording(app, ref))
        assert words in flat, (code, words)
        assert ref in flat
        assert f"{PUBLIC_URL}/notices/{ref}" in flat
        positions.append((flat.index(squeezed(kind.name)), flat.index(words)))
    # Each type's heading comes before its notice, and the types in the column's order.
    assert [p for pair in positions for p in pair] == sorted(p for pair in positions for p in pair)
    assert day_of_each_kind["next day"] not in flat
    # The ID number masked as on the web, never whole, in the text or anywhere in the file.
    assert "5401*************3" in flat
    assert ID_NUMBER not in flat
    assert ID_NUMBER.encode() not in body
    # Each page's header and footer.
    pages = [squeezed(page) for page in pdf_text(body, tmp_path).split("\f") if page.strip()]
    assert len(pages) >= 2
    today = expiry.board_today(expiry.utcnow())
    for number, page in enumerate(pages, 1):
        assert "西藏公告栏·公告专栏2024年3月8日" in page
        assert f"本页生成日期{today.year}年{today.month}月{today.day}日(北京时间)" in page
        assert f"第{number}页/共{len(pages)}页" in page


def test_a_printed_page_is_laid_out_in_columns(app, client, editor, day_of_each_kind, tmp_path):
    """Render the first page and check it is two columns of text with QR codes beside each
    notice: the left and the right half of the page both carry ink."""
    from PIL import Image

    body = export(login(client), date_from="2024-03-08").get_data()
    (tmp_path / "column.pdf").write_bytes(body)
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "column.pdf"), f"{SHOTS}/column-page-1"], check=True, timeout=60)
    image = Image.open(f"{SHOTS}/column-page-1.png").convert("L")
    width, height = image.size
    assert abs(width / height - 210 / 297) < 0.01, "A4"
    band = image.crop((0, height // 5, width, height * 3 // 5))
    left = band.crop((width // 10, 0, width * 4 // 10, band.height))
    right = band.crop((width * 6 // 10, 0, width * 9 // 10, band.height))
    for half in (left, right):
        dark = sum(half.histogram()[:128])
        assert dark > 0.01 * half.width * half.height


def qr_matrices(body, tmp_path):
    """Return the modules of every QR code drawn in a PDF, read back from its images (poppler's
    pdfimages) at 8 pixels a module: a tuple of rows of 0 (light) and 1 (dark) per image."""
    from PIL import Image

    (tmp_path / "qr.pdf").write_bytes(body)
    (tmp_path / "images").mkdir()
    subprocess.run(["pdfimages", "-png", str(tmp_path / "qr.pdf"), str(tmp_path / "images/q")],
                   check=True, timeout=60)
    found = []
    for path in sorted((tmp_path / "images").glob("*.png")):
        image = Image.open(path).convert("L")
        size = image.width // 8
        assert image.size == (size * 8, size * 8)
        found.append(tuple(
            tuple(int(image.getpixel((x * 8 + 4, y * 8 + 4)) < 128) for x in range(size))
            for y in range(size)
        ))
    return found


def test_each_qr_code_in_the_pdf_is_its_notices_permalink(client, editor, day_of_each_kind,
                                                         tmp_path):
    """The QR codes in the PDF are, module for module, the codes of the notices' permalinks,
    so a phone scanning one opens that notice."""
    body = export(login(client), date_from="2024-03-08").get_data()
    expected = []
    for code in kinds.KINDS:
        address = f"{PUBLIC_URL}/notices/{day_of_each_kind[code]}"
        matrix = segno.make(address, error="m").matrix
        expected.append(tuple(tuple(int(bool(v)) for v in row) for row in matrix))
    assert qr_matrices(body, tmp_path) == expected


def test_a_range_holds_its_days_and_no_others(app, client, editor, make_notice, tmp_path):
    inside = [make_notice("loss_declaration", day=DAY + timedelta(days=n), index=n).ref
              for n in (0, 2)]
    outside = make_notice("loss_declaration", day=DAY + timedelta(days=3), index=3).ref
    response = export(login(client), date_from="2024-03-08", date_to="2024-03-10")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'inline; filename="column-2024-03-08-2024-03-10.pdf"')
    assert "2024年3月8日至2024年3月10日" in squeezed(pdf_text(response.get_data(), tmp_path))
    flat = squeezed(pdf_text(response.get_data(), tmp_path, body_only=True))
    for ref in inside:
        assert squeezed(wording(app, ref)) in flat
    # As published, within the type.
    assert flat.index(inside[0]) < flat.index(inside[1])
    assert outside not in flat


def test_an_empty_day_is_a_page_saying_so(client, editor, tmp_path):
    response = export(login(client), date_from="2024-03-08")
    assert response.status_code == 200
    flat = squeezed(pdf_text(response.get_data(), tmp_path))
    assert "2024年3月8日没有发布公告。" in flat


def test_a_revoked_notice_is_named_not_printed(app, client, editor, make_notice, tmp_path):
    kept = make_notice("loss_declaration", day=DAY).ref
    revoked = make_notice("loss_declaration", day=DAY, index=1, status="revoked").ref
    flat = squeezed(pdf_text(client.get("/days/2024-03-08.pdf").get_data(), tmp_path, True))
    assert squeezed(wording(app, kept)) in flat
    assert squeezed(wording(app, revoked)) not in flat
    assert f"以下公告发布后已撤销,不再印出:{revoked}。" in flat


@pytest.mark.parametrize(("args", "message"), [
    ({"date_from": "2024-03-08", "date_to": "2024-04-08"}, "一次最多导出31天"),
    ({"date_from": "2024-03-08", "date_to": "2024-03-07"}, "结束日期不能早于开始日期"),
    ({"date_from": "2024-3-32"}, "日期格式应为 年-月-日"),
    ({"date_from": "8" * 5000}, "不能超过20个字"),
    ({"date_to": "2024-03-08"}, "请填写开始日期"),
    ({"date_from": "1999-12-31"}, "日期应在2000年以后、不晚于今天"),
    ({"date_from": "2999-01-01"}, "日期应在2000年以后、不晚于今天"),
])
def test_a_bad_range_is_refused_with_its_reason(client, editor, args, message):
    response = export(login(client), **args)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_a_range_of_too_many_notices_is_refused(app, client, editor, make_notice):
    app.config["PRINT_MAX_NOTICES"] = 1
    make_notice("loss_declaration", day=DAY)
    make_notice("loss_declaration", day=DAY, index=1)
    response = export(login(client), date_from="2024-03-08")
    assert response.status_code == 400
    assert "这段时间的公告超过1则,请缩短日期范围" in response.get_data(as_text=True)


def test_the_export_form_is_for_editors_only(app, client, editor):
    anonymous = client.get("/editor/print?date_from=2024-03-08")
    assert anonymous.status_code == 302
    assert anonymous.location.startswith("/editor/login")
    with app.app_context():
        admin = create_user("chief", EDITOR_PASSWORD, role="admin")
        db.session.expunge(admin)
    page = login(app.test_client(), "chief").get("/editor/print")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="date_from"' in html and 'name="date_to"' in html
    assert page.headers["Cache-Control"] == "no-store"


def test_an_account_of_another_role_is_refused(app, client, editor):
    with app.app_context():
        user = db.session.merge(editor)
        login(client)
        user.role = "authority"
        db.session.commit()
    assert client.get("/editor/print?date_from=2024-03-08").status_code == 403


def test_a_day_pdf_is_kept_until_the_data_changes(app, make_notice, editor):
    first = make_notice("loss_declaration", day=DAY).ref
    with app.app_context(), app.test_request_context("/"):
        body, made = printing.pdf(DAY, DAY)
        assert made
        again, made = printing.pdf(DAY, DAY)
        assert not made and again == body
    later = make_notice("loss_declaration", day=DAY, index=1).ref
    with app.app_context(), app.test_request_context("/"):
        body, made = printing.pdf(DAY, DAY)
        assert made
    assert first and later


def test_the_public_pdf_answers_conditional_requests(client, make_notice):
    make_notice("loss_declaration", day=DAY)
    first = client.get("/days/2024-03-08.pdf")
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert "Cache-Control" not in first.headers or "no-store" not in first.headers["Cache-Control"]
    again = client.get("/days/2024-03-08.pdf", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


@pytest.fixture
def limited(app):
    """The app with its rate limits on, counting from zero."""
    app.config.update(RATELIMIT_ENABLED=True, PRINT_RATE_LIMIT="2 per minute",
                      PRINT_BOARD_RATE_LIMIT="3 per hour")
    limiter.init_app(app)
    yield app
    limiter.reset()


def test_an_address_may_ask_for_a_few_pdfs(limited, make_notice):
    make_notice("loss_declaration", day=DAY)
    client = limited.test_client()
    assert client.get("/days/2024-03-08.pdf").status_code == 200
    assert client.get("/days/2024-03-09.pdf").status_code == 200
    refused = client.get("/days/2024-03-10.pdf")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "打印版生成过于频繁" in page and "上限为每分钟 2 次" in page
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_the_board_typesets_a_bounded_number_an_hour(limited, make_notice):
    make_notice("loss_declaration", day=DAY)
    limited.config["PRINT_RATE_LIMIT"] = "100 per minute"
    client = limited.test_client()
    # A kept PDF costs nothing: asked for again and again, it counts once.
    for _ in range(4):
        assert client.get("/days/2024-03-08.pdf").status_code == 200
    for day in ("2024-03-09", "2024-03-10"):
        assert client.get(f"/days/{day}.pdf").status_code == 200
    refused = client.get("/days/2024-03-11.pdf")
    assert refused.status_code == 429
    assert "全站本小时排版的打印版已达上限" in refused.get_data(as_text=True)
    # What is kept is still sent, to anyone.
    assert limited.test_client().get("/days/2024-03-08.pdf").status_code == 200
    assert client.get("/days/2024-03-11.pdf").status_code == 429


def test_the_typesetter_fetches_nothing_but_data(tmp_path, caplog):
    """Addresses in the column's HTML (none but its QR codes' data: URIs, but a notice's text
    could one day be rendered in a way that lets one through) are refused, files included."""
    secret = tmp_path / "secret.png"
    segno.make("secret").save(str(secret), scale=4)
    html = (f'<p>x<img src="file://{secret}"><img src="http://127.0.0.1:9/x.png">'
            f'<img src="{printing.qr_data_uri("https://notices.example.cn/")}"></p>')
    body = printing.typeset(html)
    (tmp_path / "t.pdf").write_bytes(body)
    listed = subprocess.run(["pdfimages", "-list", str(tmp_path / "t.pdf")], check=True,
                            capture_output=True, timeout=60).stdout.decode().splitlines()[2:]
    # The QR code alone.
    assert len(listed) == 1
    assert "disallowed protocol: file://" in caplog.text
    assert "disallowed protocol: http://" in caplog.text
