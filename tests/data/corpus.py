"""A small corpus of realistic notices and the queries a citizen would type to find them.

Each query lists the keys of every notice in the corpus that answers it (judged by reading
the notices, not by running the search). The search tests measure recall@5 and
precision@5 against these labels.
"""

CONTACT = {"submitter_name": "办公室", "submitter_phone": "0891-6320000"}


def supplier(key, issuer, unit, name, phone, email, scopes, requirements, participation, details=""):
    return key, "supplier_call", {
        "issuer": issuer, "scopes": scopes, "requirements": requirements,
        "participation": participation, "details": details, "contact_unit": unit,
        "contact_name": name, "contact_phone": phone, "contact_email": email, **CONTACT,
    }


def expert(key, issuer, unit, name, phone, email, requirements, methods):
    return key, "expert_call", {
        "issuer": issuer, "requirements": requirements, "application_methods": methods,
        "contact_unit": unit, "contact_name": name, "contact_phone": phone,
        "contact_email": email, **CONTACT,
    }


def wage(key, contractor, project, phone, authority=""):
    return key, "wage_clearance", {
        "contractor": contractor, "project_name": project, "contact_phone": phone,
        "authority": authority, **CONTACT,
    }


def loss(key, declarant, *items):
    return key, "loss_declaration", {
        "declarant": declarant,
        "items": [
            {"owner_name": owner, "document_type": kind, "document_number": number,
             "document_type_other": other}
            for owner, kind, number, other in items
        ],
        **CONTACT,
    }


NOTICES = [
    supplier("xzkt_supplier", "西藏开发投资集团有限公司", "西藏开发投资集团有限公司招标采购中心", "敬女士",
             "13889099800", "zczx@xzkt.net", ["works", "goods", "services"],
             "具有独立法人资格\n具有固定办公场所\n自2021年以来无不良记录",
             "以询价、竞争性谈判的方式参与非招标项目的采购活动。",
             "西藏开发投资集团有限公司门户网站 http://www.xzkt.com/"),
    supplier("tianlu_supplier", "西藏天路股份有限公司", "西藏天路股份有限公司物资采购部", "次仁先生",
             "0891-6902345", "wzcg@tianlu.com.cn", ["goods"],
             "具有独立法人资格\n具有沥青、钢材等路桥材料供应能力",
             "参与国道318线养护工程材料的询价采购。"),
    supplier("nyingchi_hotel", "林芝市旅游发展投资有限公司", "林芝市旅游发展投资有限公司综合部", "白玛女士",
             "0894-5821234", "lzly@163.com", ["services"],
             "具有酒店用品、布草洗涤服务经验\n近三年无重大质量投诉",
             "参与鲁朗小镇酒店服务类项目的竞争性谈判。"),
    supplier("shigatse_water", "日喀则市水利投资有限公司", "日喀则市水利投资有限公司工程部", "普布先生",
             "13908921234", "rkzsl@126.com", ["works"],
             "具有水利水电工程施工总承包三级及以上资质\n具有安全生产许可证",
             "参与灌区渠道维修项目的询价采购。"),
    expert("xzkt_expert", "西藏开发投资集团有限公司", "西藏开发投资集团有限公司招标采购中心", "敬女士",
           "13889099800", "zczx@xzkt.net",
           "具有高级职称且从事相关专业领域工作满5年\n熟悉招标投标法律法规",
           ["individual", "unit_recommendation"]),
    expert("lhasa_medical_expert", "拉萨市人民医院", "拉萨市人民医院采购办公室", "卓玛女士",
           "0891-6334567", "lsyy@163.com",
           "具有医学相关专业副高级及以上职称\n熟悉医疗设备采购",
           ["unit_recommendation"]),
    expert("highway_expert", "西藏自治区交通运输厅", "西藏自治区交通运输厅建设管理处", "罗布先生",
           "0891-6281234", "jtt@xizang.gov.cn",
           "具有公路桥梁工程高级工程师职称\n年龄不超过65周岁",
           ["individual"]),
    wage("xingcan_wage", "西藏星灿建设工程有限公司",
         "拉萨市尼木县卡如温泉驿站(核乡寻忆)景区2A级景区创建项目(二次)", "15726789992"),
    wage("xueyu_wage", "西藏雪域路桥工程有限公司", "那曲市色尼区县乡公路改造工程第三标段", "13989001234"),
    wage("gesang_wage", "西藏格桑花建筑劳务有限公司", "日喀则市桑珠孜区第二小学教学楼建设项目",
         "0892-8823456", "日喀则市桑珠孜区人力资源和社会保障局"),
    wage("lulang_wage", "四川华西集团有限公司", "林芝市鲁朗镇污水处理厂建设工程", "13550012345"),
    wage("nagqu_wage", "西藏高原路桥有限公司", "那曲市安多县牧民定居点道路硬化工程", "13908961122"),
    loss("zhaxi_birth", "扎西央珍", ("巴登曲加", "birth_certificate", "T540059774", "")),
    loss("dawa_birth", "达娃曲珍", ("达瓦曲扎", "birth_certificate", "S540022253", "")),
    loss("suolang_police", "索朗仁青", ("", "police_id", "397403", "")),
    loss("langjie_police", "朗杰", ("", "police_id", "159015", "")),
    loss("jing_police", "景钦伟", ("", "police_id", "394279", "")),
    loss("deji_birth", "德吉央宗", ("永忠多吉", "birth_certificate", "F000039579", "")),
    loss("pema_id", "白玛曲珍", ("", "id_card", "540102199001011233", "")),
    loss("company_license", "拉萨市城关区雪域商贸有限公司",
         ("", "business_license", "91350100M000100Y43", "")),
    loss("tsering_two", "次仁多吉",
         ("", "id_card", "11010519491231002X", ""),
         ("", "other", "ZANG-A12345", "道路运输证")),
    loss("norbu_birth", "洛桑", ("诺布旺堆", "birth_certificate", "K540100123", "")),
]

# (query, keys of every notice that answers it)
QUERIES = [
    ("工资", ["xingcan_wage", "xueyu_wage", "gesang_wage", "lulang_wage", "nagqu_wage"]),
    ("民工工资", ["xingcan_wage", "xueyu_wage", "gesang_wage", "lulang_wage", "nagqu_wage"]),
    ("路桥", ["xueyu_wage", "nagqu_wage", "tianlu_supplier"]),
    ("雪域路桥", ["xueyu_wage"]),
    ("西藏雪域路桥工程有限公司", ["xueyu_wage"]),
    ("星灿", ["xingcan_wage"]),
    ("卡如温泉", ["xingcan_wage"]),
    ("尼木县", ["xingcan_wage"]),
    ("温泉驿站", ["xingcan_wage"]),
    ("那曲", ["xueyu_wage", "nagqu_wage"]),
    ("安多县", ["nagqu_wage"]),
    ("鲁朗", ["lulang_wage", "nyingchi_hotel"]),
    ("林芝 污水处理", ["lulang_wage"]),
    ("日喀则", ["gesang_wage", "shigatse_water"]),
    ("桑珠孜区 小学", ["gesang_wage"]),
    ("扎西央珍", ["zhaxi_birth"]),
    ("央珍", ["zhaxi_birth"]),
    ("巴登曲加", ["zhaxi_birth"]),
    ("达瓦曲扎", ["dawa_birth"]),
    ("索朗仁青", ["suolang_police"]),
    ("朗杰", ["langjie_police"]),
    ("景钦伟", ["jing_police"]),
    ("永忠多吉", ["deji_birth"]),
    ("白玛曲珍", ["pema_id"]),
    ("诺布旺堆", ["norbu_birth"]),
    ("次仁多吉", ["tsering_two"]),
    ("警官证", ["suolang_police", "langjie_police", "jing_police"]),
    ("出生医学证明", ["zhaxi_birth", "dawa_birth", "deji_birth", "norbu_birth"]),
    ("营业执照", ["company_license"]),
    ("道路运输证", ["tsering_two"]),
    ("T540059774", ["zhaxi_birth"]),
    ("t540059774", ["zhaxi_birth"]),
    ("397403", ["suolang_police"]),
    ("540102199001011233", ["pema_id"]),
    ("5401 0219 9001 0112 33", ["pema_id"]),
    ("91350100M000100Y43", ["company_license"]),
    ("11010519491231002x", ["tsering_two"]),
    ("西藏开发投资集团", ["xzkt_supplier", "xzkt_expert"]),
    ("开发投资 供应商", ["xzkt_supplier"]),
    ("评标专家", ["xzkt_expert", "lhasa_medical_expert", "highway_expert"]),
    ("天路", ["tianlu_supplier"]),
    ("沥青", ["tianlu_supplier"]),
    ("国道318", ["tianlu_supplier"]),
    ("拉萨市人民医院", ["lhasa_medical_expert"]),
    ("医疗设备", ["lhasa_medical_expert"]),
    ("交通运输厅", ["highway_expert"]),
    ("水利", ["shigatse_water"]),
    ("灌区渠道", ["shigatse_water"]),
    ("布草洗涤", ["nyingchi_hotel"]),
    ("敬女士", ["xzkt_supplier", "xzkt_expert"]),
    ("13889099800", ["xzkt_supplier", "xzkt_expert"]),
    ("华西集团", ["lulang_wage"]),
    ("格桑花", ["gesang_wage"]),
    ("“县乡公路改造”", ["xueyu_wage"]),
    ("雪域", ["xueyu_wage", "company_license"]),
    ("城关区 商贸", ["company_license"]),
]
