"""Submitting and reviewing notices in a real browser, as a submitter and an editor would."""
import re
from datetime import timedelta

import pytest
from conftest import DESKTOP
from conftest import EDITOR_PASSWORD
from conftest import PHONE
from playwright.sync_api import expect

from notices import expiry
from notices import kinds
from notices.wording import cn_date

# What a person types, by label. A list ticks those boxes of a group of checkboxes, a dict
# fills the fieldset of that legend (a loss item), and a select is picked by its option's text.
# 征集开始日期 is left as the form sets it: today.
FORMS = {
    "supplier_call": {
        "发布单位": "拉萨城市建设投资有限公司",
        "征集范围": ["工程", "服务"],
        "申请入库基本条件": "具有独立法人资格\n具有固定办公场所\n近三年无重大违法记录",
        "入库供应商参与范围": "以询价方式参与拉萨城市建设投资有限公司非招标项目的采购活动。",
        "征集详情(选填)": "拉萨城投门户网站 http://www.lscjt.cn/",
        "联系单位": "拉萨城市建设投资有限公司采购部", "联系人": "次仁女士",
        "联系电话": "0891-6329876", "邮箱": "cgb@lscjt.cn",
        "提交人": "拉萨城市建设投资有限公司采购部", "提交人电话": "13989001234",
        "提交人邮箱(选填)": "cgb@lscjt.cn",
    },
    "expert_call": {
        "发布单位": "西藏天路股份有限公司",
        "征集要求": "熟悉招标投标法律法规\n具有中级以上职称\n身体健康,年龄不超过65周岁",
        "征集方式": ["个人申请"],
        "联系单位": "西藏天路股份有限公司招标中心", "联系人": "王先生",
        "联系电话": "13908905678", "邮箱": "zbzx@tianlu.com.cn",
        "提交人": "王强", "提交人电话": "13908905678",
    },
    "wage_clearance": {
        "承建单位": "西藏雪域建筑工程有限公司",
        "项目名称": "日喀则市桑珠孜区城南小学教学楼改造项目",
        "联系电话": "0892-8821234",
        "提交人": "西藏雪域建筑工程有限公司", "提交人电话": "13989012345",
    },
    "loss_declaration": {
        "声明人": "格桑卓玛",
        "第 1 项": {"证件所有人": "旦增尼玛", "证件类型": "出生医学证明", "证件编号": "U540012345"},
        "提交人": "格桑卓玛", "提交人电话": "13618901234",
    },
}
# The first try of each type gets one field wrong: (its label, what is typed, the message).
MISTAKES = {
    "supplier_call": ("邮箱", "cgb@", "邮箱格式不正确,如 name@example.com"),
    "expert_call": ("征集要求", "", "请填写征集要求"),
    "wage_clearance": ("联系电话", "12345", "请填写11位手机号,或带区号的固定电话(如0891-6321234)"),
    "loss_declaration": ("证件编号", "U54001234", "出生医学证明编号应为1个字母加9位数字,如T540059774"),
}
# Title, paragraphs of the canonical wording and the public status line; {start} is today.
PUBLISHED = {
    "supplier_call": ("拉萨城市建设投资有限公司 非招标采购供应商入库征集公告", [
        "根据工作安排,现面向社会公开征集供应商进入拉萨城市建设投资有限公司合格供应商库,"
        "欢迎优质供应商报名登记。具体公告事项如下:",
        "{start}—{end}", "工程、服务",
        "(一)具有独立法人资格;(二)具有固定办公场所;(三)近三年无重大违法记录。",
        "请应征供应商登录拉萨城投门户网站(http://www.lscjt.cn/)查看。",
        "联系人:次仁女士 电话:0891-6329876",
    ], "征集截止还有 30 天"),
    "expert_call": ("西藏天路股份有限公司 评标专家库专家征集公告", [
        "根据工作安排,现面向社会公开征集西藏天路股份有限公司评标专家库专家,"
        "欢迎符合条件的各行业、各专业的专家报名。具体公告事项如下:",
        "{start}—{end}", "1.熟悉招标投标法律法规;", "3.身体健康,年龄不超过65周岁。",
        "1.个人申请", "邮箱:zbzx@tianlu.com.cn",
    ], "征集截止还有 30 天"),
    "wage_clearance": ("西藏雪域建筑工程有限公司 民工工资结清公示", [
        "由我公司承建的“日喀则市桑珠孜区城南小学教学楼改造项目”现该项目已竣工,所有民工已全部退场,"
        "且民工工资已全部发放完毕,未有拖欠工资情况,如有异议,请于本公告见报之日起30日向当地劳动局举报。",
        "联系电话:0892-8821234", "西藏雪域建筑工程有限公司", "{start}",
    ], "异议期还剩 30 天"),
    "loss_declaration": ("格桑卓玛 遗失声明", [
        "格桑卓玛不慎,将旦增尼玛的出生医学证明(编号:U540012345)丢失,声明作废。"
    ], "公示期还剩 30 天"),
}
# The consent to publish, ticked on every form a submitter fills in here.
CONSENT = "我同意公开刊登上述内容,其中涉及的个人已知情同意。"
for _fields in FORMS.values():
    _fields[CONSENT] = True
REJECTION = "材料不全,请补充营业执照"
ID_NUMBER = "54010219850312003X"


def today():
    return expiry.board_today(expiry.utcnow())


def dated(text):
    start = today()
    return text.format(start=cn_date(start), end=cn_date(start + timedelta(days=30)))


def flat(fields):
    """Return the fields without their fieldsets: {"证件编号": …} for {"第 1 项": {"证件编号": …}}."""
    out = {}
    for label, value in fields.items():
        out.update(flat(value) if isinstance(value, dict) else {label: value})
    return out


def control(scope, label):
    """Return the control labelled ``label`` and whether it is a select."""
    found = scope.get_by_label(label, exact=True)
    return found, found.evaluate("e => e.tagName") == "SELECT"


def group(scope, legend):
    return scope.get_by_role("group", name=legend, exact=True)


def fill(scope, fields):
    for label, value in fields.items():
        if isinstance(value, dict):
            fill(group(scope, label), value)
        elif isinstance(value, list):
            for option in value:
                group(scope, label).get_by_label(option, exact=True).check()
        elif value is True:
            control(scope, label)[0].check()
        else:
            found, is_select = control(scope, label)
            found.select_option(label=value) if is_select else found.fill(value)


def expect_filled(scope, fields, skip=None):
    """Expect the form to hold ``fields`` as typed, except the field labelled ``skip``."""
    for label, value in fields.items():
        if isinstance(value, dict):
            expect_filled(group(scope, label), value, skip)
        elif label == skip:
            continue
        elif isinstance(value, list):
            boxes = group(scope, label)
            expect(boxes.locator("input:checked")).to_have_count(len(value))
            for option in value:
                expect(boxes.get_by_label(option, exact=True)).to_be_checked()
        elif value is True:
            expect(control(scope, label)[0]).to_be_checked()
        else:
            found, is_select = control(scope, label)
            if is_select:
                expect(found.locator("option:checked")).to_have_text(value)
            else:
                expect(found).to_have_value(value)


def open_form(page, server, code):
    page.goto(server + "/submit")
    page.locator(".choose").get_by_role("link", name=kinds.get(code).name).click()
    expect(page).to_have_url(f"{server}/submit/{code}")
    if kinds.get(code).submitter_sets_window:
        expect(page.get_by_label("征集开始日期")).to_have_value(today().isoformat())
    # The submitter agrees to publication, as every submission must.
    fill(page, {CONSENT: True})


def press(page, name):
    page.get_by_role("button", name=name, exact=True).click()


def confirm(page, code):
    """Confirm the previewed notice; return its ref and the private tracking address."""
    press(page, "确认提交")
    expect(page).to_have_url(re.compile(r"/track/[\w-]{20,}$"))
    ref = page.locator("h1 small").inner_text().removeprefix("编号 ")
    assert re.fullmatch(rf"{kinds.get(code).ref_prefix}-{today():%Y%m%d}-[0-9A-HJKMNP-TV-Z]{{5}}", ref)
    expect(page.locator(".flash-success")).to_contain_text(f"提交成功,编号 {ref}")
    expect(page.locator(".track-status")).to_have_text("待审核")
    return ref, page.url


def submit(page, server, code):
    """Fill and submit the form of ``code`` without mistakes; return (ref, tracking URL)."""
    open_form(page, server, code)
    fill(page, FORMS[code])
    press(page, "预览")
    return confirm(page, code)


@pytest.fixture
def log_in(browser, server, editor):
    """Return a function that logs the editor in, in a browser context of their own."""
    context = browser.new_context(**DESKTOP)
    context.set_default_timeout(10_000)

    def log_in():
        page = context.new_page()
        page.goto(server + "/editor/login")
        page.get_by_label("用户名").fill("editor")
        page.get_by_label("密码").fill(EDITOR_PASSWORD)
        press(page, "登录")
        expect(page).to_have_url(server + "/editor/")
        return page

    yield log_in
    context.close()


def approve(page, ref):
    """Approve the submission whose review page is open, through its confirm page."""
    press(page, "通过并发布")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"确认发布? {ref}")
    press(page, "确认发布")


def open_in_queue(page, ref):
    row = page.locator("table.queue tbody tr", has_text=ref)
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    expect(page.locator("h1 small")).to_have_text(f"{ref} · 待审核")


@pytest.mark.parametrize("code", list(FORMS))
def test_submission_is_corrected_previewed_approved_and_published(page, server, log_in, code):
    fields, (label, wrong, message) = FORMS[code], MISTAKES[code]
    open_form(page, server, code)
    fill(page, fields)
    fill(page, {label: wrong})
    press(page, "预览")

    expect(page).to_have_title(re.compile(r"^错误:"))
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(1)
    expect(summary.get_by_role("link")).to_contain_text(message)
    wrong_box = page.locator(".field.has-error")
    expect(wrong_box).to_have_count(1)
    expect(wrong_box.locator(".field-error")).to_have_text(message)
    wrong_field = wrong_box.get_by_label(label, exact=True)
    expect(wrong_field).to_have_value(wrong)
    expect(wrong_field).to_have_attribute("aria-invalid", "true")
    expect(wrong_field).to_have_accessible_description(re.compile(re.escape(message)))
    summary.get_by_role("link").click()
    expect(wrong_field).to_be_focused()
    expect_filled(page, fields, skip=label)
    if kinds.get(code).submitter_sets_window:
        expect(page.get_by_label("征集开始日期")).to_have_value(today().isoformat())

    fill(page, {label: flat(fields)[label]})
    press(page, "预览")
    title, paragraphs, status = PUBLISHED[code]
    text = page.locator("article.notice .notice-text")
    for paragraph in paragraphs:
        expect(text.get_by_text(dated(paragraph), exact=True)).to_have_count(1)
    ref, track_url = confirm(page, code)

    editor = log_in()
    open_in_queue(editor, ref)
    approve(editor, ref)
    # The seed notices are all published: the queue is empty now, and the flash leads back.
    expect(editor).to_have_url(server + "/editor/")
    expect(editor.locator(".flash-success")).to_have_text(
        f"已发布「{title}」({ref})。 返回查看 · 队列中已没有待审核的提交。"
    )
    editor.locator(".flash-success").get_by_role("link", name="返回查看").click()
    expect(editor.locator("h1 small")).to_have_text(f"{ref} · 已发布")

    page.goto(server + "/")
    card = page.locator(".card", has=page.locator(".ref", has_text=f"编号 {ref}"))
    expect(card).to_have_count(1)
    expect(card).to_contain_text(paragraphs[0] if code == "loss_declaration" else title)
    card.get_by_role("link").first.click()
    expect(page).to_have_url(f"{server}/notices/{ref}")
    expect(page.locator("h1.notice-title")).to_have_text(title)
    expect(page.locator(".notice-status")).to_have_text(dated(status))
    for paragraph in paragraphs:
        expect(page.locator(".notice-text").get_by_text(dated(paragraph), exact=True)).to_be_visible()

    page.goto(track_url)
    expect(page.locator(".track-status")).to_have_text("已发布")
    expect(page.get_by_role("link", name=f"{server}/notices/{ref}")).to_be_visible()


def test_loss_rows_are_added_and_removed_and_id_numbers_masked(page, server):
    open_form(page, server, "loss_declaration")
    first = {"证件所有人": "旦增尼玛", "证件类型": "出生医学证明", "证件编号": "U540012345"}
    second = {"证件所有人": "", "证件类型": "居民身份证", "证件编号": ID_NUMBER}
    fill(page, {"声明人": "格桑卓玛", "第 1 项": first, "提交人": "格桑卓玛", "提交人电话": "13618901234"})
    expect(page.get_by_role("button", name="删除此项")).to_have_count(0)

    press(page, "再添加一项证件")
    expect(page.locator("fieldset.item")).to_have_count(2)
    expect_filled(page, {"声明人": "格桑卓玛", "第 1 项": first, "提交人电话": "13618901234"})
    fill(page, {"第 2 项": second})

    group(page, "第 1 项").get_by_role("button", name="删除此项").click()
    expect(page.locator("fieldset.item")).to_have_count(1)
    expect_filled(page, {"声明人": "格桑卓玛", "第 1 项": second, "提交人": "格桑卓玛"})
    expect(page.get_by_role("button", name="删除此项")).to_have_count(0)

    press(page, "预览")
    masked = ID_NUMBER[:4] + "*" * 13 + ID_NUMBER[-1:]
    lines = page.locator("article.notice .notice-text p")
    expect(lines).to_have_count(1)
    expect(lines).to_have_text(f"格桑卓玛不慎,将居民身份证(身份证号:{masked})丢失,声明作废。")
    expect(page.locator("article.notice")).not_to_contain_text(ID_NUMBER)
    confirm(page, "loss_declaration")
    expect(page.locator(".notice-text p")).to_have_text(re.compile(re.escape(masked)))


def test_enter_in_a_field_previews_and_never_adds_or_removes_a_loss_row(page, server):
    """The first submit button is what Enter (a phone's 前往) presses: 预览, not a row's
    删除此项 or 再添加一项证件."""
    open_form(page, server, "loss_declaration")
    first = {"证件所有人": "旦增尼玛", "证件类型": "出生医学证明", "证件编号": "U540012345"}
    second = {"证件所有人": "", "证件类型": "居民身份证", "证件编号": ID_NUMBER}
    fill(page, {"声明人": "格桑卓玛", "第 1 项": first, "提交人": "格桑卓玛", "提交人电话": "13618901234"})
    press(page, "再添加一项证件")
    fill(page, {"第 2 项": second})
    group(page, "第 2 项").get_by_label("证件编号").press("Enter")
    expect(page.get_by_role("button", name="确认提交")).to_be_visible()
    text = page.locator("article.notice .notice-text")
    expect(text).to_contain_text("U540012345")
    expect(text).to_contain_text(ID_NUMBER[:4] + "*" * 13 + ID_NUMBER[-1:])


def test_rejected_submission_shows_the_reason_and_is_not_published(page, server, log_in):
    ref, track_url = submit(page, server, "supplier_call")
    editor = log_in()
    open_in_queue(editor, ref)
    editor.get_by_label("退回理由(提交人可见)").fill(REJECTION)
    press(editor, "退回")
    expect(editor.locator(".flash-success")).to_have_text(
        f"已退回「{PUBLISHED['supplier_call'][0]}」({ref}),理由会显示给提交人。 返回查看 · "
        "队列中已没有待审核的提交。"
    )

    page.goto(track_url)
    expect(page.locator(".track-status")).to_have_text("未通过")
    expect(page.locator(".flash-error")).to_have_text(f"未通过审核。编辑的意见:{REJECTION}")
    assert page.goto(f"{server}/notices/{ref}").status == 404
    page.goto(server + "/")
    expect(page.get_by_text(PUBLISHED["supplier_call"][0])).to_have_count(0)


def test_withdrawn_submission_leaves_the_queue(page, server, log_in):
    ref, track_url = submit(page, server, "expert_call")
    editor = log_in()
    expect(editor.locator("table.queue")).to_contain_text(ref)

    page.get_by_role("link", name="撤回这份提交").click()
    expect(page.get_by_role("heading", name="撤回这份提交?")).to_be_visible()
    press(page, "确认撤回")
    expect(page).to_have_url(track_url)
    expect(page.locator(".flash-success")).to_have_text("已撤回。该公告不会发布。")
    expect(page.locator(".track-status")).to_have_text("已撤回")
    expect(page.get_by_role("link", name="撤回这份提交")).to_have_count(0)

    editor.reload()
    expect(editor.get_by_text(ref)).to_have_count(0)
    expect(editor.locator(".empty")).to_have_text("没有待审核的提交。")


def test_login_refuses_a_wrong_password_and_guards_the_queue(page, server, editor):
    page.goto(server + "/editor/")
    expect(page).to_have_url(re.compile(r"/editor/login\?next=%2Feditor%2F$"))
    expect(page.get_by_role("status")).to_have_text("请先登录编辑账户")

    page.get_by_label("用户名").fill("editor")
    page.get_by_label("密码").fill("not-the-password")
    press(page, "登录")
    password = page.locator(".field", has=page.get_by_label("密码"))
    expect(password.locator(".field-error")).to_have_text("用户名或密码不正确")
    expect(page.get_by_label("用户名")).to_have_value("editor")
    expect(page.locator("table.queue, .empty")).to_have_count(0)

    page.get_by_label("密码").fill(EDITOR_PASSWORD)
    press(page, "登录")
    expect(page).to_have_url(server + "/editor/")
    expect(page.locator("h1")).to_contain_text("审核队列")


def no_sideways_scrolling(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_editor_approves_two_in_a_row_through_the_confirm_step_on_a_phone(browser, server, make_notice):
    """Queue, review, confirm, and straight on to the next: on a phone, without scripts."""
    yesterday = today() - timedelta(days=1)
    first = make_notice("loss_declaration", status="submitted", day=yesterday, index=1).ref
    # The seeds hold a published wage notice of the same project: the queue flags it.
    second = make_notice("wage_clearance", status="submitted", day=yesterday).ref
    context = browser.new_context(**PHONE, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(server + "/editor/login")
    page.get_by_label("用户名").fill("editor")
    page.get_by_label("密码").fill(EDITOR_PASSWORD)
    press(page, "登录")

    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(first)
    expect(rows.nth(1).locator("time")).to_have_text(re.compile(r"^等候 (\d+ 小时|1 天( \d+ 小时)?)$"))
    expect(rows.nth(1).locator(".flag")).to_have_text("⚠ 同一项目已公示")
    assert no_sideways_scrolling(page)
    rows.nth(0).get_by_role("link").click()
    expect(page.locator("h1 small")).to_have_text(f"{first} · 待审核")

    window = f"公示期:{cn_date(today())}—{cn_date(today() + timedelta(days=30))}"
    press(page, "通过并发布")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"确认发布? {first}")
    expect(page.locator(".consequences")).to_contain_text(window)
    assert no_sideways_scrolling(page)
    press(page, "确认发布")

    expect(page).to_have_url(f"{server}/editor/notices/{second}")
    flash = page.locator(".flash-success")
    expect(flash).to_contain_text(f"({first})。")
    expect(flash).to_contain_text("下面是队列中的下一份(还有 1 份待审核)。")
    expect(page.locator("h1 small")).to_have_text(f"{second} · 待审核")
    expect(page.locator(".flash-warning")).to_contain_text("同一项目的工资结清公示已于")
    press(page, "通过并发布")
    expect(page.locator(".consequences")).to_contain_text(f"异议期:{cn_date(today())}")
    press(page, "确认发布")

    expect(page).to_have_url(server + "/editor/")
    expect(page.locator(".flash-success")).to_contain_text(f"({second})。")
    expect(page.locator(".flash-success")).to_contain_text("队列中已没有待审核的提交。")
    expect(page.locator(".empty")).to_have_text("没有待审核的提交。")
    page.locator(".flash-success").get_by_role("link", name="返回查看").click()
    expect(page.locator("h1 small")).to_have_text(f"{second} · 已发布")
    for ref in (first, second):
        assert page.goto(f"{server}/notices/{ref}").status == 200
    context.close()


def test_revoking_asks_again_and_backing_out_changes_nothing(page, server, log_in, make_notice):
    ref = make_notice("loss_declaration", day=today()).ref
    editor = log_in()
    editor.goto(f"{server}/editor/notices/{ref}")
    editor.get_by_label("撤销理由(将公开显示)").fill("重复刊登")
    press(editor, "撤销公告")
    expect(editor.get_by_role("heading", level=1)).to_have_text(f"确认撤销? {ref}")
    expect(editor.get_by_label("撤销理由(将公开显示)")).to_have_value("重复刊登")
    editor.get_by_role("link", name="返回审核页,不撤销").click()
    expect(editor.locator("h1 small")).to_have_text(f"{ref} · 已发布")

    editor.get_by_label("撤销理由(将公开显示)").fill("重复刊登")
    press(editor, "撤销公告")
    editor.get_by_label("撤销理由(将公开显示)").fill("与 2024 年的声明重复")
    press(editor, "确认撤销")
    expect(editor.locator("h1 small")).to_have_text(f"{ref} · 已撤销")
    expect(editor.locator(".flash-success")).to_contain_text("理由已公开显示")
    page.goto(f"{server}/notices/{ref}")
    expect(page.locator(".notice-status")).to_have_text("已撤销:与 2024 年的声明重复")
