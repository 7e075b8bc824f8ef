"""What the board writes to a submitter who gave an e-mail address: the receipt, then the outcome.

Each function queues one mail in the caller's transaction (see mail.queue). Nothing written
here shows a full ID number: names, titles and reasons are masked as public pages mask them,
and a notice's wording is its public, masked one.

The receipt is the only mail that can carry the tracking address: the token exists only
while the submission is being stored, and the database keeps its hash alone. So the receipt
is written then, in the same transaction, and later mails point back to it.
"""
from flask import current_app

from notices import board
from notices import expiry
from notices.documents import mask_id_numbers
from notices.mail.outbox import queue
from notices.urls import public_url
from notices.wording import board_time
from notices.wording import cn_date

BOARD_NAME = "西藏公告栏"


def receipt(notice, token, now):
    """Queue the receipt of a submission just stored, with its private tracking address."""
    kind = notice.kind_def
    text = board.draft_text(notice, expiry.board_today(now)).plain()
    body = [
        f"您好!{BOARD_NAME}已收到您提交的{kind.name},编号 {notice.ref},"
        f"提交时间 {board_time(now)}(北京时间)。",
        "编辑审核通过后即发布;未通过的,会说明理由。审核结果会另发邮件告诉您。",
        "",
        "查看审核进度、在审核前撤回,请打开您的专用链接:",
        public_url("submit.track", token=token),
        "",
        "这个链接是这份提交唯一的凭证:本站只保存它的校验值,无法补发,也不会再发给您。"
        "请保存好这封邮件,不要转发:拿到链接的人都能查看和撤回这份提交。",
        "",
        "提交的内容如下(发布后的样子,身份证号码部分隐去):",
        "",
        text,
    ]
    _queue(notice, "receipt", f"已收到您的{kind.name}(编号 {notice.ref})", body, now)


def approved(notice, now):
    """Queue the news that ``notice`` is published: its permalink and its window."""
    kind = notice.kind_def
    today = expiry.board_today(notice.published_at)
    shown = board.show(notice, today)
    window = (
        f"{kind.window_label}:{cn_date(notice.window_start)}至{cn_date(notice.window_end)}"
        "(北京时间,含最后一天)。"
    )
    if not expiry.is_open(notice.window_start, today):
        window += f"征集尚未开始,{cn_date(notice.window_start)}开始。"
    body = [
        f"您提交的{kind.name}(编号 {notice.ref})已于 {board_time(notice.published_at)} "
        "审核通过并发布。",
        "",
        "公告页面(可以转发给需要的人):",
        public_url("public.notice", ref=notice.ref),
        "",
        window + "期满后公告移入归档,页面长期保留。",
        "",
        "发布的内容如下(身份证号码部分隐去):",
        "",
        shown.text.plain(),
    ]
    _queue(notice, "approve", f"您的{kind.name}已发布(编号 {notice.ref})", body, now)


def rejected(notice, now):
    """Queue the news that ``notice`` was not approved, with the editor's reason."""
    kind = notice.kind_def
    body = [
        f"您提交的{kind.name}「{_title(notice)}」(编号 {notice.ref})未通过审核,不会发布。",
        "",
        "编辑给出的理由:",
        mask_id_numbers(notice.reason),
        "",
        "请按理由修改后重新提交:",
        public_url("submit.new", code=kind.code),
        "",
        "审核进度和理由也可以在您的专用链接里查看;链接在提交时收到的回执邮件中"
        "(本站不保存链接,无法补发)。",
    ]
    _queue(notice, "reject", f"您的{kind.name}未通过审核(编号 {notice.ref})", body, now)


def revoked(notice, now):
    """Queue the news that the published ``notice`` was revoked, with the public reason."""
    kind = notice.kind_def
    body = [
        f"您的{kind.name}「{_title(notice)}」(编号 {notice.ref})已于 "
        f"{board_time(notice.closed_at)} 被编辑撤销。",
        "公告页面仍然保留,并公开显示撤销理由:",
        mask_id_numbers(notice.reason),
        "",
        "公告页面:",
        public_url("public.notice", ref=notice.ref),
    ]
    _queue(notice, "revoke", f"您的{kind.name}已撤销(编号 {notice.ref})", body, now)


def withdrawn(notice, now):
    """Queue word that ``notice`` was withdrawn through its tracking address."""
    kind = notice.kind_def
    body = [
        f"您提交的{kind.name}「{_title(notice)}」(编号 {notice.ref})已于 "
        f"{board_time(notice.closed_at)} 通过专用链接撤回,不会发布。",
        "",
        "如果不是您本人撤回的,说明别人得到了您的专用链接。需要发布的话,请重新提交。",
    ]
    _queue(notice, "withdraw", f"您的{kind.name}已撤回(编号 {notice.ref})", body, now)


# What each transition of services._transition tells the submitter.
ON_TRANSITION = {"approve": approved, "reject": rejected, "revoke": revoked, "withdraw": withdrawn}


def _title(notice):
    return notice.kind_def.title(board.public_fields(notice))


def _queue(notice, action, subject, lines, now):
    name = mask_id_numbers(notice.submitter_name)
    footer = [
        "",
        "-- ",
        f"{BOARD_NAME} {current_app.config['PUBLIC_URL']}",
        "本邮件由系统自动发送,请勿直接回复。如果您没有在本站提交过公告,请忽略本邮件。",
    ]
    queue(
        action,
        notice.submitter_email,
        f"【{BOARD_NAME}】{subject}",
        "\n".join([f"{name}:", "", *lines, *footer]) + "\n",
        now=now,
        dedupe_key=f"{action}:{notice.ref}",
    )
