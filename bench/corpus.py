"""Realistic notices of all four types for benchmarks: Tibetan names, places, companies.

``generate(n, seed)`` yields (type code, submission data, publication date) with valid
document numbers and dates spread over five years; ``write_lines`` writes them as the JSON
Lines ``flask import-notices`` reads, and ``load`` imports such a file through the command's
own code, every line validated as a submission is.
"""
import json
import random
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

from notices import documents
from notices import expiry
from notices import imports
from notices import search

GIVEN = ("扎西 次仁 达瓦 尼玛 格桑 卓玛 央金 拉姆 德吉 旦增 平措 索朗 多吉 白玛 曲珍 央宗 普布 "
         "边巴 罗布 顿珠 琼达 益西 仁青 巴桑 洛桑 强巴 拉巴 米玛 次旦 贡嘎").split()
HAN = "王 李 张 刘 陈 杨 赵 黄 周 吴 徐 孙 马 朱 胡 郭 何 罗 高 林".split()
PLACES = ("拉萨市城关区 拉萨市堆龙德庆区 拉萨市达孜区 林周县 当雄县 尼木县 曲水县 墨竹工卡县 "
          "日喀则市桑珠孜区 江孜县 定日县 拉孜县 林芝市巴宜区 米林市 工布江达县 山南市乃东区 "
          "错那市 昌都市卡若区 江达县 那曲市色尼区 安多县 阿里地区噶尔县 普兰县").split()
WORKS = ("道路硬化工程 农牧民安居工程 小学教学楼建设项目 污水处理厂建设工程 供水管网改造工程 "
         "景区提升改造项目 光伏电站建设项目 卫生院改扩建工程 高标准农田建设项目 防洪堤加固工程 "
         "县乡公路改造工程 幼儿园新建工程").split()
TRADES = "路桥 建筑 建设 水电 劳务 市政 园林 安装".split()
WORDS = "雪域 高原 圣城 珠峰 羊湖 格桑花 念青 吉祥 藏东 天域 雅江 喜马拉雅".split()
ISSUERS = ("西藏开发投资集团有限公司 西藏天路股份有限公司 西藏城市发展投资有限公司 "
           "拉萨市城市建设投资经营有限公司 日喀则市水利投资有限公司 林芝市旅游发展投资有限公司 "
           "西藏自治区交通运输厅 拉萨市人民医院 西藏国有资本投资运营有限公司").split()


def person(rng):
    if rng.random() < 0.8:
        return rng.choice(GIVEN) + rng.choice(GIVEN)
    return rng.choice(HAN) + rng.choice(GIVEN)[0] + rng.choice("伟芳军平强丽华明")


def company(rng):
    return f"西藏{rng.choice(WORDS)}{rng.choice(TRADES)}工程有限公司"


def id_number(rng, day):
    body = f"5401{rng.randint(0, 99):02d}{day:%Y%m%d}{rng.randint(0, 999):03d}"
    return body + documents.id_card_check_char(body)


def uscc(rng):
    body = "9154" + "".join(rng.choice(documents.USCC_ALPHABET) for _ in range(13))
    return body + documents.uscc_check_char(body)


def _contact(rng, issuer):
    return {
        "contact_unit": issuer + "招标采购中心", "contact_name": rng.choice(HAN) + "女士",
        "contact_phone": f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}",
        "contact_email": f"cg{rng.randint(1, 999)}@example.cn",
        "submitter_name": issuer, "submitter_phone": "0891-6320000",
    }


def _item(rng):
    kind = rng.choice(["id_card", "birth_certificate", "police_id", "business_license", "other"])
    born = date(1960, 1, 1) + timedelta(days=rng.randint(0, 20000))
    number = {
        "id_card": lambda: id_number(rng, born),
        "birth_certificate": lambda: rng.choice("TSFK") + f"54{rng.randint(0, 9999999):07d}",
        "police_id": lambda: f"{rng.randint(100000, 999999)}",
        "business_license": lambda: uscc(rng),
        "other": lambda: f"ZANG-{rng.randint(1000, 99999)}",
    }[kind]()
    return {"owner_name": person(rng) if rng.random() < 0.4 else "", "document_type": kind,
            "document_number": number, "document_type_other": "道路运输证" if kind == "other" else ""}


def generate(n, seed=7, start=date(2021, 11, 25), days=5 * 365):
    """Yield n (code, data, publication date) tuples, deterministic for a seed."""
    rng = random.Random(seed)
    for _ in range(n):
        day = start + timedelta(days=rng.randint(0, days))
        roll = rng.random()
        if roll < 0.08:
            issuer = rng.choice(ISSUERS)
            data = {"issuer": issuer, "scopes": rng.sample(["works", "goods", "services"], rng.randint(1, 3)),
                    "requirements": "具有独立法人资格\n具有有效的营业执照、资质证书\n近三年无不良记录",
                    "participation": f"参与{rng.choice(PLACES)}{rng.choice(WORKS)}的询价采购。",
                    "window_start": day.isoformat(), **_contact(rng, issuer)}
            yield "supplier_call", data, day
        elif roll < 0.14:
            issuer = rng.choice(ISSUERS)
            data = {"issuer": issuer, "requirements": "具有高级职称\n熟悉招标投标法律法规",
                    "application_methods": ["individual", "unit_recommendation"],
                    "window_start": day.isoformat(), **_contact(rng, issuer)}
            yield "expert_call", data, day
        elif roll < 0.40:
            contractor = company(rng)
            data = {"contractor": contractor,
                    "project_name": f"{rng.choice(PLACES)}{rng.choice(WORKS)}",
                    "contact_phone": f"139{rng.randint(0, 99999999):08d}",
                    "submitter_name": contractor, "submitter_phone": "0891-6320000"}
            yield "wage_clearance", data, day
        else:
            declarant = person(rng)
            items = [_item(rng) for _ in range(1 if rng.random() < 0.85 else 2)]
            if len({i["document_number"] for i in items}) < len(items):
                items = items[:1]
            data = {"declarant": declarant, "items": items,
                    "submitter_name": declarant, "submitter_phone": "13800000000"}
            yield "loss_declaration", data, day



def declared_numbers(n, seed=7):
    """Return every document number the corpus of n notices declares, normalized.

    The board keeps a published number only as its keyed hash and its public form, so what
    needs the numbers themselves (the peers' indexes, the queries for numbers) takes them
    from the corpus, which is the same for the same n and seed.
    """
    return {
        documents.normalize_number(item["document_number"])
        for code, data, _day in generate(n, seed) if code == "loss_declaration"
        for item in data["items"]
    }

def write_lines(notices, path):
    """Write (code, data, day) notices to ``path`` as import lines, each published at 09:00 on
    its day; return how many."""
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for code, data, day in notices:
            published = datetime.combine(day, time(9), expiry.BOARD_TZ)
            line = {"type": code, **data, "published_at": published.isoformat()}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
    return count


def load(path):
    """Import the JSON Lines at ``path`` as `flask import-notices` does; return its report.

    The search index is left to the caller (the benchmarks time its build on its own), and
    its rows wait in the outbox, as the command leaves them before it indexes.
    """
    with search.held(), open(path, "rb") as lines:
        return imports.run(lines, now=expiry.utcnow())
