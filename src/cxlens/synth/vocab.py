"""Word lists of the synthetic contact centre: names, cities, products, queues, pages."""

from __future__ import annotations

from typing import Final

# Common surnames with rough frequency weights (王李张刘陈 cover about a third of China).
ZH_SURNAMES: Final = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1), ("黄", 2.2),
    ("赵", 2.0), ("吴", 2.0), ("周", 1.9), ("徐", 1.5), ("孙", 1.5), ("马", 1.3), ("朱", 1.3),
    ("胡", 1.3), ("郭", 1.2), ("何", 1.2), ("高", 1.1), ("林", 1.1), ("罗", 1.0), ("郑", 1.0),
    ("梁", 1.0), ("谢", 0.8), ("宋", 0.7), ("唐", 0.7), ("许", 0.7), ("韩", 0.7), ("冯", 0.7),
    ("邓", 0.7), ("曹", 0.6), ("彭", 0.6), ("曾", 0.6), ("肖", 0.6), ("田", 0.5), ("董", 0.5),
    ("袁", 0.5), ("潘", 0.5), ("于", 0.5), ("蒋", 0.5), ("蔡", 0.5), ("余", 0.5), ("杜", 0.5),
    ("叶", 0.4), ("程", 0.4), ("苏", 0.4), ("魏", 0.4), ("吕", 0.4), ("丁", 0.4), ("任", 0.4),
    ("沈", 0.4), ("欧阳", 0.1), ("司马", 0.03),
)
ZH_GIVEN_MALE: Final = tuple(
    "伟 强 磊 军 勇 杰 涛 斌 超 明 刚 平 辉 鹏 华 飞 鑫 波 宇 浩 凯 健 俊 帆 帅 旭 宁 龙 林 "
    "欢 阳 建 国 东 文 博 晨 峰 亮 海 志 永 成 子 轩 睿 泽 浩然 子豪 宇航 俊杰 志强 建华 "
    "国强 海涛 晓东 文博 思远 家豪 明轩 天宇".split()
)
ZH_GIVEN_FEMALE: Final = tuple(
    "芳 娜 敏 静 丽 艳 娟 霞 秀 英 慧 婷 雪 琳 颖 倩 洁 玲 萍 红 燕 佳 欣 怡 梅 莉 兰 "
    "晶 璐 瑶 雯 丹 悦 诗涵 雨桐 欣怡 梓涵 思琪 佳怡 子涵 晓燕 丽娟 美玲 雅婷 婉清 "
    "梦瑶 雨欣 静怡 紫萱".split()
)
EN_FIRST_MALE: Final = ("James", "John", "Robert", "Michael", "David", "William", "Richard",
                        "Thomas", "Daniel", "Mark", "Paul", "Steven", "Andrew", "Kevin", "Brian",
                        "George", "Peter", "Ryan", "Lucas", "Ethan", "Oliver", "Henry")
EN_FIRST_FEMALE: Final = ("Mary", "Jennifer", "Linda", "Sarah", "Emily", "Jessica", "Laura",
                          "Emma", "Olivia", "Sophie", "Anna", "Rachel", "Grace", "Chloe",
                          "Hannah", "Lucy", "Megan", "Alice", "Claire", "Julia", "Kate")
EN_LAST: Final = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
                  "Taylor", "Anderson", "Thomas", "Moore", "Martin", "Jackson", "White", "Harris",
                  "Clark", "Lewis", "Walker", "Young", "King", "Wright", "Scott", "Green",
                  "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Turner")

# Simplified → traditional forms a billing clerk (or a Hong Kong / Taiwan keyboard) may use.
TRADITIONAL: Final = dict(zip(
    "陈刘张杨黄赵吴孙马罗郑谢韩冯邓许苏叶吕蒋沈伟华丽军红国东龙凤云飞鹏涛宁静刚杰艳欢阳建"
    "辉浩俊帅晓强宇娟兰梅顺义贤宾斌亮莲锋钢铁银凯轩睿泽豪航婷诗梦颖萱欣",
    "陳劉張楊黃趙吳孫馬羅鄭謝韓馮鄧許蘇葉呂蔣瀋偉華麗軍紅國東龍鳳雲飛鵬濤寧靜剛傑艷歡陽建"
    "輝浩俊帥曉強宇娟蘭梅順義賢賓斌亮蓮鋒鋼鐵銀凱軒睿澤豪航婷詩夢穎萱欣",
    strict=True,
))
# Homophones typed by mistake with a pinyin keyboard (typo'd names of CRM duplicates).
HOMOPHONES: Final = {
    "伟": "玮", "丽": "莉", "静": "婧", "敏": "珉", "军": "君", "涛": "韬", "杰": "洁",
    "明": "铭", "华": "桦", "芳": "方", "娜": "纳", "磊": "雷", "强": "墙", "勇": "永",
    "斌": "彬", "超": "潮", "平": "萍", "辉": "晖", "鹏": "朋", "飞": "菲", "波": "博",
    "宇": "雨", "浩": "皓", "凯": "恺", "健": "建", "俊": "骏", "婷": "亭", "雪": "学",
    "琳": "林", "颖": "莹", "倩": "茜", "玲": "琳", "燕": "艳", "佳": "嘉", "欣": "新",
    "怡": "仪", "梅": "玫", "晨": "辰", "峰": "锋", "亮": "靓", "海": "凯", "志": "智",
    "王": "汪", "李": "黎", "张": "章", "陈": "程", "杨": "阳", "黄": "王", "吴": "伍",
    "周": "邹", "徐": "许", "林": "琳", "罗": "骆",
}

# city, region (province), landline area code, local-number digits, weight
CITIES: Final = (
    ("深圳", "广东", "0755", 8, 9.0), ("广州", "广东", "020", 8, 8.0), ("上海", "上海", "021", 8, 10.0),
    ("北京", "北京", "010", 8, 10.0), ("杭州", "浙江", "0571", 8, 5.0), ("成都", "四川", "028", 8, 5.0),
    ("武汉", "湖北", "027", 8, 4.0), ("南京", "江苏", "025", 8, 4.0), ("西安", "陕西", "029", 8, 3.0),
    ("重庆", "重庆", "023", 8, 4.0), ("苏州", "江苏", "0512", 8, 3.0), ("天津", "天津", "022", 8, 3.0),
    ("长沙", "湖南", "0731", 8, 2.5), ("郑州", "河南", "0371", 8, 2.5), ("东莞", "广东", "0769", 8, 2.0),
    ("青岛", "山东", "0532", 8, 2.0), ("厦门", "福建", "0592", 7, 1.5), ("昆明", "云南", "0871", 7, 1.5),
    ("佛山", "广东", "0757", 8, 1.5), ("宁波", "浙江", "0574", 8, 1.5),
)
CITY_EN: Final = {
    "深圳": "Shenzhen", "广州": "Guangzhou", "上海": "Shanghai", "北京": "Beijing",
    "杭州": "Hangzhou", "成都": "Chengdu", "武汉": "Wuhan", "南京": "Nanjing", "西安": "Xi'an",
    "重庆": "Chongqing", "苏州": "Suzhou", "天津": "Tianjin", "长沙": "Changsha",
    "郑州": "Zhengzhou", "东莞": "Dongguan", "青岛": "Qingdao", "厦门": "Xiamen",
    "昆明": "Kunming", "佛山": "Foshan", "宁波": "Ningbo",
}
# Resident-ID region prefixes (first six digits) of each city's main district.
ID_REGION: Final = {
    "深圳": "440304", "广州": "440106", "上海": "310115", "北京": "110105", "杭州": "330106",
    "成都": "510107", "武汉": "420106", "南京": "320106", "西安": "610113", "重庆": "500103",
    "苏州": "320505", "天津": "120104", "长沙": "430104", "郑州": "410105", "东莞": "441900",
    "青岛": "370212", "厦门": "350203", "昆明": "530102", "佛山": "440604", "宁波": "330203",
}

MOBILE_PREFIXES: Final = ("138", "139", "137", "136", "135", "150", "151", "158", "159", "186",
                          "185", "188", "187", "177", "176", "199", "189", "180", "133", "131",
                          "130", "132", "155", "156", "166", "173", "181", "182", "183", "198")
EMAIL_DOMAINS_ZH: Final = (("qq.com", 5.0), ("163.com", 3.0), ("126.com", 1.5),
                           ("foxmail.com", 1.0), ("sina.com", 0.7), ("outlook.com", 0.8),
                           ("gmail.com", 0.5), ("139.com", 0.5))
EMAIL_DOMAINS_EN: Final = (("gmail.com", 5.0), ("outlook.com", 2.5), ("hotmail.com", 1.5),
                           ("yahoo.com", 1.0), ("icloud.com", 1.0), ("qq.com", 0.5))
PINYIN_SYLLABLES: Final = tuple(
    "wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng "
    "liang xie song tang wei jun min jing hua fang na qiang lei tao jie ming yan ting xin yu "
    "hao kai jian hong ping hui peng fei bo long xiao dong wen chao lan mei".split()
)

PLANS: Final = ("basic", "plus", "premium")
# product (zh), product (en), price in CNY
PRODUCTS: Final = (
    ("智能手表", "smart watch", 1299.0), ("蓝牙耳机", "wireless earbuds", 399.0),
    ("扫地机器人", "robot vacuum", 1999.0), ("空气净化器", "air purifier", 1599.0),
    ("电饭煲", "rice cooker", 499.0), ("充电宝", "power bank", 129.0),
    ("路由器", "Wi-Fi router", 299.0), ("平板电脑", "tablet", 2999.0),
    ("手机壳", "phone case", 49.0), ("电动牙刷", "electric toothbrush", 259.0),
    ("智能音箱", "smart speaker", 349.0), ("咖啡机", "coffee machine", 2499.0),
    ("会员年卡", "annual membership", 198.0), ("宽带套餐", "broadband plan", 1200.0),
)

# products that can have a technical fault (indices into PRODUCTS)
DEVICES: Final = tuple(i for i, p in enumerate(PRODUCTS)
                       if p[0] not in ("手机壳", "会员年卡", "充电宝"))

# queue → (team skills, share of headcount)
QUEUES: Final = {
    "general_zh": ("zh,general", 0.40),
    "billing_zh": ("zh,billing", 0.16),
    "tech_zh": ("zh,tech", 0.16),
    "vip": ("zh,en,billing,tech,vip", 0.12),
    "general_en": ("en,general,billing,tech", 0.16),
}
SITES: Final = ("深圳", "成都")
# shift name → local start hour, length in hours
SHIFTS: Final = {"early": (8, 9), "mid": (10, 9), "late": (13, 9), "night": (22, 10)}

HELP_PAGES: Final = {
    "billing": ("/account/bills", "/help/billing", "/help/billing/double-charge"),
    "delivery": ("/orders", "/orders/track", "/help/delivery"),
    "technical": ("/help/devices", "/help/troubleshooting", "/support/firmware"),
    "account_access": ("/login", "/account/reset-password", "/help/login"),
    "product_enquiry": ("/products", "/products/compare", "/help/faq"),
    "cancellation": ("/account/plan", "/account/cancel", "/help/cancel"),
    "complaint": ("/help/contact", "/help/feedback", "/help/complaints"),
    "refund": ("/orders", "/orders/return", "/help/refunds"),
}
BROWSE_PAGES: Final = ("/", "/products", "/products/new", "/deals", "/cart", "/account")
