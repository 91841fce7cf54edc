"""Write the two .docx documents of the wild corpus (run with the project's venv python).

    .venv/bin/python data/wild/scripts/make_docx.py
"""

from pathlib import Path

import docx

DOCS = Path(__file__).resolve().parents[1] / "docs"


def table(d, header, rows):
    t = d.add_table(rows=1, cols=len(header))
    t.style = "Table Grid"
    for cell, text in zip(t.rows[0].cells, header):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        cells = t.add_row().cells
        for cell, text in zip(cells, row):
            cell.text = text
    return t


def first_aid():
    d = docx.Document()
    title = "2025年秋季社区急救技能培训课程安排"
    d.core_properties.title = title
    d.core_properties.author = "枫林街道社区卫生服务中心"
    d.core_properties.subject = "社区急救培训"
    d.add_heading(title, level=0)
    d.add_paragraph(
        "为提高辖区居民的应急自救互救能力，枫林街道社区卫生服务中心联合市红十字会，"
        "于2025年10月至11月开展社区急救技能培训。培训全程免费，面向辖区内18至65周岁的居民，"
        "每期限额40人。学员完成全部课程并通过考核后，可获得市红十字会颁发的救护员证书，证书有效期三年。"
    )
    d.add_paragraph("培训地点：枫林街道社区卫生服务中心三楼多功能教室（枫林路218号）。")
    d.add_paragraph(
        "报名方式：通过“枫林社区”小程序在线报名，或致电0571-86093321电话报名，报名截止时间为9月30日。"
        "报名人数超过限额时，优先安排学校、养老机构和物业公司的工作人员。"
    )
    d.add_heading("课程安排", level=1)
    table(
        d,
        ["日期", "时间", "课程内容", "授课老师"],
        [
            ["10月11日（周六）", "9:00-11:30", "心肺复苏（CPR）理论与实操", "许敏"],
            ["10月18日（周六）", "9:00-11:30", "自动体外除颤器（AED）的使用", "许敏"],
            ["10月25日（周六）", "14:00-16:30", "创伤止血与包扎", "梁国栋"],
            ["11月1日（周六）", "14:00-16:30", "骨折固定与伤员搬运", "梁国栋"],
            ["11月8日（周六）", "9:00-11:00", "气道异物梗阻急救（海姆立克法）", "陈佳怡"],
            ["11月15日（周六）", "9:00-12:00", "综合演练与考核", "全体授课老师"],
        ],
    )
    d.add_heading("注意事项", level=1)
    d.add_paragraph(
        "一、请学员穿着便于活动的服装和平底鞋，每次课提前10分钟到教室签到；缺课超过一次者不能参加最后的考核。"
    )
    d.add_paragraph(
        "二、实操训练使用的模拟人和训练用除颤器由市红十字会提供，每次课后统一消毒。学员无需自带任何器材。"
    )
    d.add_paragraph("三、如遇台风、暴雨等恶劣天气，当次课程顺延一周，具体以短信通知为准。")
    d.add_paragraph("枫林街道社区卫生服务中心")
    d.add_paragraph("2025年9月5日")
    d.save(DOCS / "schedule_first_aid_training.docx")


def print_shop():
    d = docx.Document()
    title = "墨香图文快印店服务价目表"
    d.core_properties.title = title
    d.core_properties.author = "龚小雨"
    d.add_heading(title, level=0)
    d.add_paragraph(
        "本店位于大学城商业街12号（校图书馆正对面），营业时间为每天8:00至22:00，"
        "期末考试周延长至24:00。以下价格均已含税。学生凭学生证可享受九折优惠，"
        "但彩色海报和装订类业务不参加折扣。"
    )
    table(
        d,
        ["服务项目", "规格", "单价", "备注"],
        [
            ["黑白打印", "A4单面", "0.2元/张", "满100张按0.15元/张计"],
            ["黑白打印", "A4双面", "0.3元/张", "—"],
            ["彩色打印", "A4单面", "1元/张", "照片纸另加0.5元"],
            ["彩色海报", "A1", "25元/张", "需提前一天预约"],
            ["胶装", "100页以内", "5元/本", "超过100页每本加2元"],
            ["名片印刷", "300克铜版纸", "35元/盒", "每盒100张，两天取货"],
            ["证件照", "一寸/两寸", "20元/版", "含电子版"],
            ["扫描", "A4", "0.5元/页", "可转为PDF文件"],
        ],
    )
    d.add_paragraph(
        "批量业务：论文、标书等单笔金额满200元可免费送货上门，送货范围限大学城以内。"
        "每年5月至6月为毕业季，论文胶装业务较多，请至少提前两天预约。"
    )
    d.add_paragraph(
        "文件可通过店内电脑的U盘接口、邮箱或微信传输。为保护隐私，顾客的文件在打印完成后当天删除，"
        "本店不保留任何副本。"
    )
    d.add_heading("会员办法", level=1)
    d.add_paragraph(
        "一次性充值100元即可办理会员卡，赠送10元余额；充值300元赠送40元余额。会员卡余额长期有效，"
        "但不能兑换现金，也不能与学生证优惠同时使用。会员在店内自助打印时，每张黑白打印可再优惠0.02元。"
    )
    d.add_heading("取件须知", level=1)
    d.add_paragraph(
        "网上下单的文件一般在两小时内完成，完成后系统会发送取件码。超过七天未取的打印件，本店将作为废纸统一粉碎处理，"
        "已付款项不予退还。如对印刷质量有异议，请在取件当场提出，本店将免费重新打印。"
    )
    d.add_paragraph("店长：龚小雨　　联系电话：0755-26031188")
    d.save(DOCS / "price_list_print_shop.docx")


if __name__ == "__main__":
    first_aid()
    print_shop()
