"""Character and word tables for synthetic Chinese names, places and organisations."""
from __future__ import annotations

import random

SURNAMES = (
    "张王陈李徐朱周沈陆顾吴孙黄杨刘赵胡钱施曹金蒋许郁唐严姚范汪龚俞冯何郭林高罗郑梁谢宋韩邓彭"
    "曾肖田董袁潘于蔡余杜叶程苏魏吕丁任卢姜崔钟谭夏邵毛邹孟熊秦邱江尹薛段雷侯龙史陶黎贺戴孔汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
OLD_MALE = "建国华明伟强军平德根福海林荣生宝兴祥国忠文志庆宏"
OLD_FEMALE = "秀英兰芳珍凤桂华玉梅娟琴萍丽妹宝仙菊美云凤霞"
MID_MALE = "伟磊勇军斌杰涛刚峰鹏辉波俊浩健亮东晨宇翔飞"
MID_FEMALE = "敏静丽燕艳娟霞婷雪琳颖芳洁佳倩蕾慧红玲莉"
YOUNG_MALE = "子轩浩宇梓睿博文俊泽皓辰逸宸铭一诺昊然奕天佑嘉"
YOUNG_FEMALE = "子涵欣怡梓雨诗萱可馨语桐依若汐悦琪思妍晨一"

COMMITTEES = (
    "兰溪路居委会", "枣阳路居委会", "杏山路居委会", "北石路居委会", "桂巷路居委会",
    "花溪路居委会", "梅岭北路居委会", "南梅路居委会", "棠浦路居委会", "桐柏路居委会",
    "曹杨一村居委会", "曹杨二村居委会", "曹杨三村居委会", "曹杨五村居委会", "曹杨六村居委会",
    "曹杨七村居委会", "曹杨八村居委会", "梅川路居委会", "中山北路居委会", "金沙江路居委会",
)
ROADS = (
    "兰溪路", "枣阳路", "杏山路", "北石路", "桂巷路", "花溪路", "梅岭北路", "南梅路", "棠浦路",
    "桐柏路", "曹杨路", "梅川路", "中山北路", "金沙江路", "杨柳青路", "铜川路", "武宁路", "真如路",
)
OLD_COMPOUND_PREFIX = ("曹杨", "桂巷", "杏山", "枣阳", "兰溪", "北石", "花溪", "棠浦")
NUMERALS = "一二三四五六七八九十"
NEW_COMPOUND_A = ("中海", "绿地", "金鼎", "名都", "梅岭", "华宇", "兰庭", "杏林", "锦绣", "天地", "汇丰", "中环")
NEW_COMPOUND_B = ("苑", "花园", "公寓", "家园", "雅苑", "名邸", "城", "华庭")
OTHER_PROVINCE_AREAS = (
    "320102", "320583", "330106", "330382", "340104", "341202", "410102", "411523", "510104",
    "420106", "370102", "130102", "360102", "430102", "350203", "500103", "220102", "612301",
)
EMPLOYER_WORDS = ("华信", "申通", "东方", "金桥", "长风", "宏达", "利民", "安泰", "星辰", "普华", "新源", "联合")
EMPLOYER_TRADES = ("科技", "贸易", "物流", "餐饮管理", "建设工程", "信息技术", "医药", "文化传媒", "物业管理", "电子")
INSTITUTIONS = (
    "普陀区中心医院", "上海市曹杨中学", "普陀区曹杨新村街道办事处", "上海地铁运营有限公司",
    "普陀区人民法院", "同济大学附属同济医院", "上海邮政普陀分公司",
)
SHOP_WORDS = {
    "CATERING": ("面馆", "小吃店", "餐厅", "饺子馆", "馄饨店", "快餐店", "烘焙坊", "茶饮店"),
    "RETAIL": ("便利店", "水果店", "烟杂店", "服装店", "五金店", "超市", "文具店", "花店"),
    "SERVICES": ("理发店", "洗衣店", "修车铺", "照相馆", "家政服务部", "维修部", "美容店"),
    "PHARMACY": ("大药房", "药店", "医药连锁店"),
    "OTHER": ("房产中介", "彩票站", "快递驿站", "棋牌室"),
}


def person_name(rng: random.Random, male: bool, birth_year: int) -> str:
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.004 else _weighted_surname(rng)
    if birth_year < 1965:
        pool = OLD_MALE if male else OLD_FEMALE
    elif birth_year < 1995:
        pool = MID_MALE if male else MID_FEMALE
    else:
        pool = YOUNG_MALE if male else YOUNG_FEMALE
    given = rng.choice(pool) if rng.random() < 0.3 else rng.choice(pool) + rng.choice(pool)
    return surname + given


def _weighted_surname(rng: random.Random) -> str:
    # front of the table is more common (Shanghai distribution, roughly)
    i = int(len(SURNAMES) * rng.random() ** 2.2)
    return SURNAMES[i]


def employer(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return rng.choice(INSTITUTIONS)
    return f"上海{rng.choice(EMPLOYER_WORDS)}{rng.choice(EMPLOYER_TRADES)}有限公司"


def mobile(rng: random.Random) -> str:
    prefix = rng.choice(("130", "131", "133", "135", "136", "137", "138", "139", "150", "151", "158",
                         "159", "177", "180", "181", "186", "187", "189", "199"))
    return prefix + f"{rng.randrange(10**8):08d}"
