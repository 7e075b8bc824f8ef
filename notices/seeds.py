"""The notices printed in the newspaper pages of shared/seeds, as a submitter would enter them.

They are the demo data and the reference for the wording tests: rendered from these fields,
each notice must read exactly as it was printed.
"""
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time

from notices import expiry
from notices import kinds
from notices import services
from notices.extensions import db
from notices.models import Notice

XZKT_DETAILS = (
    "中国采购与招标网\n"
    "西藏开发投资集团有限公司门户网站 http://www.xzkt.com/\n"
    "西藏开发投资集团有限公司电子化交易平台 http://xzktbossbobo.com/"
)
XZKT_CONTACT = {
    "contact_unit": "西藏开发投资集团有限公司招标采购中心",
    "contact_name": "敬女士",
    "contact_phone": "13889099800",
    "contact_email": "zczx@xzkt.net",
    "submitter_name": "西藏开发投资集团有限公司招标采购中心",
    "submitter_phone": "13889099800",
    "submitter_email": "zczx@xzkt.net",
}


@dataclass
class Seed:
    kind: str
    # The date the newspaper printed it: the window start of a call, else publication.
    printed: date
    data: dict


def _loss(declarant, document_type, number, owner=None):
    return Seed(
        "loss_declaration",
        date(2026, 7, 10),
        {
            "declarant": declarant,
            "items": [
                {"owner_name": owner or "", "document_type": document_type,
                 "document_number": number},
            ],
            "submitter_name": declarant,
            "submitter_phone": "0891-6323333",
        },
    )


SEEDS = [
    Seed("supplier_call", date(2024, 3, 8), {
        "issuer": "西藏开发投资集团有限公司",
        "scopes": ["works", "goods", "services"],
        "requirements": (
            "具有独立法人资格\n"
            "具有有效的营业执照、资质证书\n"
            "具备国家和相关部门颁发的质量、安全、环保以及其它生产经营资格、许可证、质量认证等\n"
            "具有完善的质量保证体系\n"
            "具有完善的财务管理体系\n"
            "工程类企业应具有申请类别三级或以上资质\n"
            "具有固定办公场所\n"
            "自2021年以来无不良记录"
        ),
        "participation": (
            "以询价、竞争性谈判的方式参与西藏开发投资集团有限公司非招标项目的采购活动。"
            "非招标项目范围指:施工单项合同估算价在400万元人民币以下,"
            "货物采购单项合同估算价在200万元人民币以下,"
            "服务采购单项合同估算价在100万元人民币以下的非招标项目采购。"
        ),
        "details": XZKT_DETAILS,
        **XZKT_CONTACT,
    }),
    Seed("expert_call", date(2024, 3, 8), {
        "issuer": "西藏开发投资集团有限公司",
        "requirements": (
            "具有良好的职业道德、遵纪守法、廉洁自律,无行贿、受贿、欺诈等不良信用记录\n"
            "熟悉有关招标投标、政府采购等公共资源交易法律法规\n"
            "评标专家应当具有高级职称且从事相关专业领域工作满5年或具有中级职称且从事相关专业"
            "领域工作满8年或取得该领域国家职业资格满2年\n"
            "身体健康,能够承担评标工作,年龄不超过65周岁\n"
            "自愿以独立身份参加西藏开发投资集团有限公司评标活动\n"
            "符合法律法规规定的其他条件"
        ),
        "application_methods": ["individual", "unit_recommendation"],
        "details": XZKT_DETAILS,
        **XZKT_CONTACT,
    }),
    Seed("wage_clearance", date(2026, 7, 10), {
        "contractor": "西藏星灿建设工程有限公司",
        "project_name": "拉萨市尼木县卡如温泉驿站(核乡寻忆)景区2A级景区创建项目(二次)",
        "contact_phone": "15726789992",
        "submitter_name": "西藏星灿建设工程有限公司",
        "submitter_phone": "15726789992",
    }),
    _loss("扎西央珍", "birth_certificate", "T540059774", owner="巴登曲加"),
    _loss("达娃曲珍", "birth_certificate", "S540022253", owner="达瓦曲扎"),
    _loss("索朗仁青", "police_id", "397403"),
    _loss("朗杰", "police_id", "159015"),
    _loss("景钦伟", "police_id", "394279"),
    _loss("德吉央宗", "birth_certificate", "F000039579", owner="永忠多吉"),
]


def load(editor, *, now, as_printed=False):
    """Submit and approve every seed notice; return (loaded, already present).

    Re-dated, calls open today and the others are published today. As printed, each is
    submitted and approved on its printed date, which puts them all in the archive.
    A seed already on the board (same title, and still active, or with the printed window)
    is not loaded twice, so the demo can be started again.
    """
    today = expiry.board_today(now)
    loaded = present = 0
    for seed in SEEDS:
        kind = kinds.get(seed.kind)
        data = dict(seed.data)
        # The printed notices give a real company's address: the demo never writes to it.
        data.pop("submitter_email", None)
        when = now
        if as_printed:
            when = datetime.combine(seed.printed, time(9), expiry.BOARD_TZ)
        if kind.submitter_sets_window:
            data["window_start"] = (seed.printed if as_printed else today).isoformat()
        if _present(kind, data, seed, as_printed, today):
            present += 1
            continue
        # The printed notices' consent was the newspaper's to collect, not the board's: none
        # is recorded (consent_at stays None).
        notice, _ = services.submit(kind, services.flatten(data), now=when, asks_consent=False)
        services.approve(notice, editor, now=when)
        loaded += 1
    return loaded, present


def _present(kind, data, seed, as_printed, today):
    form = services.validate(kind, services.flatten(data), today=None, asks_consent=False)
    title = kind.title(kind.fields_from_form(form))
    candidates = db.session.scalars(
        db.select(Notice).where(Notice.kind == kind.code, Notice.status == "published")
    )
    for notice in candidates:
        if kind.title(notice.fields) != title:
            continue
        if as_printed and notice.published_on == seed.printed:
            return True
        if not as_printed and not expiry.is_expired(notice.window_end, today):
            return True
    return False
