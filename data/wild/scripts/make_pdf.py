"""Write the four PDF documents of the wild corpus (run with the project's venv python).

    timeout 120 .venv/bin/python data/wild/scripts/make_pdf.py

Two PDFs embed a TrueType subset of WenQuanYi Zen Hei; the other two use the Adobe CID font
STSong-Light, which is not embedded (a reader substitutes a local Song face).  The layout is
done with reportlab platypus, so paragraphs wrap where reportlab breaks the lines; running
headers and page footers are drawn on the canvas.  ``rl_config.invariant = 1`` makes reruns
byte-identical.

``logical_text(name)`` gives a document's source text (title, headings, paragraphs and table
cells, one per line) without the layout: no line wraps inside a paragraph, no running header,
no footer.  ``validate.py`` checks the questions against it.  Importing this module does not
need reportlab.
"""

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
WQY = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"

# Blocks: ("title", text), ("sub", text) centred line, ("h", text) heading, ("p", text) justified
# paragraph with a two-character first-line indent, ("item", text) list item with a hanging
# indent (its marker is part of the text), ("line", text) unindented line, ("right", text)
# right-aligned line, ("table", header, rows, column widths in cm).

LIBRARY = [
    ("title", "青禾县图书馆2024年度工作报告"),
    ("p", "2024年，青禾县图书馆在县委、县政府的领导和县文化和旅游局的指导下，围绕“书香青禾”"
          "建设目标，持续推进总分馆制建设，各项工作顺利完成。现将有关情况报告如下。"),
    ("h", "一、基本情况"),
    ("p", "县图书馆现有馆舍面积6800平方米，设有借阅室、少儿阅览室、地方文献室和电子阅览室等"
          "九个服务窗口，阅览座位620个。全馆在编职工二十三人，其中具有副高级职称的四人。截至"
          "2024年12月31日，馆藏纸质图书38.6万册，电子图书12万种，订阅报刊三百一十种。全年接待"
          "读者41.2万人次，比上年增长14%；外借图书27.5万册次，办理新读者证3460张。"),
    ("h", "二、主要工作"),
    ("p", "（一）推进总分馆制建设。年内新建乡镇分馆三个、村（社区）服务点十一个，全县分馆总数"
          "达到十四个，服务点达到一百零二个，实现乡镇全覆盖。总馆全年向各分馆统一配送图书4.3万册，"
          "并首次实行“一证通借、通借通还”，读者在任何一个分馆借的书，都可以到其他分馆或总馆归还。"),
    ("p", "（二）开展全民阅读活动。全年举办讲座、展览、读书会等各类活动二百一十六场，参与群众约"
          "5.8万人次。“青禾讲堂”邀请本地作者、中学教师和农技专家开讲四十场；暑期开展的“小小"
          "图书管理员”体验活动共招募中小学生一百八十名，每人在馆内服务不少于8个小时。4月23日"
          "世界读书日当天，馆里在县城人民广场举办图书交换集市，共交换图书两千余册。"),
    ("p", "（三）加强数字服务。上半年完成自助借还系统升级，新增自助借还机六台，并在县政务服务"
          "中心和高铁站各安放一台24小时自助借书柜。馆藏书目数据已全部接入省图书馆联合目录，读者"
          "可以通过微信公众号查询、续借和预约图书。全年数字资源访问量达到96万次，其中手机端访问"
          "占百分之七十以上。"),
    ("p", "（四）保护地方文献。继续向社会征集地方志、家谱、老照片和本地作者的著作，全年新入藏"
          "地方文献五百四十二种，其中清代刻本族谱两部。完成民国版《青禾县志》的数字化扫描，共计"
          "1870页，已在电子阅览室提供全文阅览。"),
    ("h", "三、存在的问题"),
    ("p", "一是馆舍建于1998年，空调、消防等设施老化，少儿阅览室在周末和寒暑假经常满座，座位"
          "不足的问题比较突出。二是部分乡镇分馆由文化站人员兼管，开放时间不稳定，有三个分馆每周"
          "开放不足30个小时。三是专业人才缺乏，全馆35岁以下的职工只有五人，数字化和古籍修复方面"
          "的技术力量薄弱。"),
    ("h", "四、2025年工作打算"),
    ("p", "2025年，县图书馆将重点做好以下几项工作：一是配合有关部门做好新馆选址和设计，争取新馆"
          "早日开工；二是推动乡镇分馆每周开放时间不少于40个小时，并为每个分馆配备一名专职管理员；"
          "三是新增纸质图书2万册，馆藏总量力争突破40万册；四是在城区新建两处“城市书房”，夜间"
          "开放时间延长至22时。"),
    ("right", "青禾县图书馆"),
    ("right", "2025年1月15日"),
]

HEATING = [
    ("title", "关于2025—2026年采暖季供热有关事项的通告"),
    ("line", "各热用户："),
    ("p", "根据《北岭市城市供热管理办法》的有关规定，结合近期天气情况，经市城市管理局同意，本市"
          "2025—2026年采暖季定于2025年11月1日零时起正式供热，至2026年3月31日24时停止供热，"
          "供热期共151天。10月20日至31日为试运行阶段，管网将逐步注水升温，请热用户在此期间"
          "尽量留人在家，检查室内暖气片和阀门，发现跑水、漏水请及时报修。"),
    ("p", "本采暖季热费标准与上一采暖季相同，具体见下表。热费缴纳截止日期为2025年10月25日，"
          "逾期未缴费的用户将暂缓开栓供热。居民用户在10月15日前一次性缴清全部热费的，可享受"
          "热费总额百分之二的优惠；低保户、特困供养人员凭有效证件到营业厅办理，热费减半收取。"),
    ("table", ["用户类别", "计费方式", "收费标准", "备注"],
     [
         ["居民住宅", "按建筑面积", "22.5元/平方米", "整个采暖季"],
         ["居民住宅（已装热计量表）", "基本热价＋计量热价", "基本热价9元/平方米，计量热价0.18元/千瓦时",
          "全季热费最高不超过按面积计算的金额"],
         ["机关、学校、医院", "按建筑面积", "30元/平方米", "整个采暖季"],
         ["商业用户", "按建筑面积", "38元/平方米", "含商铺、写字楼"],
     ],
     [3.6, 3.2, 4.4, 4.4]),
    ("p", "缴费方式：用户可通过“北岭热力”微信公众号、各合作银行网点或公司各营业厅缴纳热费。"
          "营业厅办公时间为每天8:30至17:30，10月份周末照常营业。"),
    ("p", "供热期间，居民室内温度应不低于18℃。室温不达标的，用户可拨打24小时服务热线"
          "0317-6052288反映，公司在接到报修后4小时内安排人员上门检测；经检测连续72小时不达标的，"
          "按规定退还相应热费。"),
    ("line", "特此通告。"),
    ("right", "北岭市热力有限公司"),
    ("right", "2025年10月8日"),
]

RECYCLING = [
    ("title", "云岚市家庭生活垃圾分类投放指南"),
    ("sub", "（2025年版）"),
    ("p", "《云岚市生活垃圾管理条例》自2025年7月1日起在全市施行。按照条例，生活垃圾分为可回收物、"
          "有害垃圾、厨余垃圾和其他垃圾四类，分别投放到蓝色、红色、绿色和灰色的垃圾桶。建议每个"
          "家庭准备两个垃圾桶，分别盛放厨余垃圾和其他垃圾；可回收物和有害垃圾数量较少，可以在家中"
          "单独存放，攒到一定数量后再集中投放。"),
    ("h", "一、可回收物（蓝色桶）"),
    ("p", "可回收物是指适宜回收和资源化利用的废弃物，主要有以下五类："),
    ("item", "1. 废纸：报纸、纸板箱、旧书本、干净的纸质包装等，请压平、捆扎后投放。"),
    ("item", "2. 塑料：饮料瓶、洗发水瓶、塑料玩具等。瓶底标有PET（1号）、HDPE（2号）或PP（5号）的"
             "塑料容器回收价值较高，投放前请倒空、稍作冲洗并压扁。"),
    ("item", "3. 金属：易拉罐、罐头盒、旧锅、旧刀具等。"),
    ("item", "4. 玻璃：玻璃瓶、镜子、窗玻璃等。碎玻璃请用厚纸包好，以免划伤清运人员。"),
    ("item", "5. 织物：旧衣服、床单、毛绒玩具等。小区设有旧衣回收箱的，请投入回收箱。"),
    ("p", "注意：沾了油污的纸张（如用过的餐巾纸）和外卖餐盒虽然看起来是纸或塑料，但已经无法"
          "回收利用，应作为其他垃圾投放。"),
    ("h", "二、有害垃圾（红色桶）"),
    ("item", "● 废电池：充电电池、纽扣电池、手机电池等。普通干电池目前基本不含汞，可作为其他垃圾投放。"),
    ("item", "● 废灯管：荧光灯管、节能灯等。"),
    ("item", "● 过期药品及其包装，废弃的血压计、水银温度计。"),
    ("item", "● 废油漆桶、杀虫剂罐、染发剂壳等。"),
    ("p", "投放有害垃圾时请保持物品完整。灯管、温度计等容易破碎的物品，应连同原包装或用纸包裹"
          "后轻放，不要将其打碎后再投放；破损的水银温度计请装入密封袋。"),
    ("h", "三、厨余垃圾（绿色桶）"),
    ("p", "厨余垃圾包括剩菜剩饭、菜叶果皮、蛋壳、茶渣、过期食品等。投放时要做到“先破袋、后投放”，"
          "即把厨余垃圾倒进绿色桶内，装垃圾的塑料袋另外投入其他垃圾桶。汤汁较多的剩菜应先沥干"
          "水分。大骨头、榴莲壳、椰子壳质地坚硬、不易腐烂，粉碎处理困难，应投入其他垃圾桶。厨余垃圾容易腐烂发臭，夏季最好"
          "做到日产日清，不要在家中存放过夜。"),
    ("h", "四、其他垃圾（灰色桶）"),
    ("p", "除上述三类以外的生活垃圾都属于其他垃圾，例如用过的纸巾、尿不湿、烟头、陶瓷碎片、"
          "一次性餐具和灰土等。一时难以判断类别的少量垃圾，可以先投放到其他垃圾桶。"),
    ("h", "五、投放时间与大件垃圾"),
    ("p", "小区垃圾分类投放点每天开放两个时段：早上7:00至9:00，晚上18:00至21:00，其余时间请"
          "使用小区的误时投放点。家具、床垫等大件垃圾，请提前通过“云岚环卫”APP或拨打12319热线"
          "预约，环卫部门免费上门收运，每户每月可预约一次。装修垃圾须装袋后堆放到物业指定地点，"
          "清运费按每袋3元收取。"),
    ("h", "六、环保积分"),
    ("p", "市民投放可回收物时，扫描投放点上的二维码（QR码）即可获得环保积分，每公斤积2分，"
          "满100分可在社区兑换点兑换大米、洗衣液等生活用品。积分有效期为一年，逾期自动清零。"),
    ("right", "云岚市城市管理委员会编印"),
]

MINUTES = [
    ("title", "石桥村村民委员会会议纪要"),
    ("line", "会议时间：二〇二五年三月十二日上午九时"),
    ("line", "会议地点：村委会二楼会议室"),
    ("line", "主持人：村委会主任周立新"),
    ("line", "出席人员：周立新、汪春梅、胡德海、郑秀英、林晓峰（村委会成员），村民代表七人"),
    ("line", "列席人员：镇农业农村服务中心许文杰"),
    ("line", "记录人：林晓峰"),
    ("h", "一、村东片区道路硬化工程"),
    ("p", "周立新通报了村东片区道路硬化工程的准备情况。工程全长２.４公里，路面宽４.５米，估算"
          "总投资八十六万元，其中申请上级农村公路补助资金五十万元，村集体经济出资二十六万元，"
          "其余十万元由沿线受益农户自愿筹集。经讨论，会议决定：工程于四月上旬开工，六月底前"
          "完工；由胡德海负责施工现场协调，郑秀英负责资金收支公示，每月公示一次。"),
    ("h", "二、村西片区耕地流转"),
    ("p", "许文杰介绍了镇里建设高标准农田的有关政策。经讨论，会议同意将村西片区３２０亩耕地"
          "统一流转给本村种粮大户，流转期限五年，租金每亩每年六百元，于每年十二月底前一次付清。"
          "涉及农户四十七户，须逐户签订书面协议。会议决定由汪春梅在三月二十五日前完成农户意见"
          "征求，同意的农户达不到百分之九十的，暂缓流转。"),
    ("h", "三、村内生活垃圾清运"),
    ("p", "目前全村设垃圾收集点１８个，聘请保洁员三名，每人每月工资一千八百元。村民代表反映，"
          "村小学门口和东头菜场附近的垃圾经常清运不及时。会议决定，从四月起增加保洁员一名，并在"
          "村小学门口新增收集点两个，所需费用从村集体经济收入中列支。"),
    ("h", "四、其他事项"),
    ("p", "林晓峰提出，村文化礼堂的屋顶去年夏天出现漏雨，需要维修。会议同意先请施工队现场查看，"
          "出具维修方案和报价后，提交下一次村民代表会议讨论决定。"),
    ("line", "下次会议时间：二〇二五年四月十日"),
    ("line", "散会时间：上午十一时二十分"),
]

# name -> (blocks, settings).  font "wqy" is embedded, "cid" is STSong-Light (not embedded).
# footer: "page_of" prints "第 N 页 共 M 页", "dash" prints "- N -", None prints nothing.
# crossing: a snippet of the paragraph that must run across the first page break, checked
# after the build.
DOCUMENTS = {
    "pdf_report_library_annual.pdf": (LIBRARY, dict(
        font="wqy", title="青禾县图书馆2024年度工作报告", author="青禾县图书馆",
        subject="年度工作报告", header="青禾县图书馆年度工作报告", footer="page_of",
        size=12, leading=21, pages=2, crossing="一是馆舍建于1998年")),
    "pdf_notice_heating_cid.pdf": (HEATING, dict(
        font="cid", title="关于2025—2026年采暖季供热有关事项的通告", author="北岭市热力有限公司",
        subject="供热通告", header=None, footer=None, size=11, leading=19, pages=1,
        crossing=None)),
    "pdf_guide_recycling.pdf": (RECYCLING, dict(
        font="wqy", title="云岚市家庭生活垃圾分类投放指南", author="云岚市城市管理委员会",
        subject="垃圾分类", header=None, footer="dash", size=12, leading=21, pages=2,
        crossing="厨余垃圾包括剩菜剩饭")),
    "pdf_minutes_village_cid.pdf": (MINUTES, dict(
        font="cid", title="石桥村村民委员会会议纪要", author="石桥村村民委员会",
        subject="会议纪要", header=None, footer=None, size=12, leading=21, pages=1,
        crossing=None)),
}


def logical_text(name: str) -> str:
    """The document's source text: one block per line, table cells one per line."""
    parts = []
    for block in DOCUMENTS[name][0]:
        if block[0] == "table":
            parts.extend(block[1])
            for row in block[2]:
                parts.extend(row)
        else:
            parts.append(block[1])
    return "\n".join(parts)


def furniture(name: str, page: int, pages: int):
    """(running header, footer) drawn on a page, None where there is none."""
    s = DOCUMENTS[name][1]
    footer = {"page_of": f"第 {page} 页 共 {pages} 页", "dash": f"- {page} -"}.get(s["footer"])
    return s["header"], footer


def _build(name, out):
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    blocks, s = DOCUMENTS[name]
    if s["font"] == "wqy":
        from reportlab.pdfbase.ttfonts import TTFont

        font = "zh"
        if font not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(font, WQY, subfontIndex=0))
    else:
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        font = "STSong-Light"
        if font not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(font))

    size, leading = s["size"], s["leading"]
    base = dict(fontName=font, fontSize=size, leading=leading, wordWrap="CJK")
    styles = {
        "title": ParagraphStyle("title", **{**base, "fontSize": size + 6, "leading": leading + 10},
                                alignment=TA_CENTER, spaceAfter=6),
        "sub": ParagraphStyle("sub", **base, alignment=TA_CENTER, spaceAfter=8),
        "h": ParagraphStyle("h", **{**base, "fontSize": size + 2, "leading": leading + 2},
                            spaceBefore=6, spaceAfter=3),
        "p": ParagraphStyle("p", **base, alignment=TA_JUSTIFY, firstLineIndent=2 * size),
        "item": ParagraphStyle("item", **base, alignment=TA_JUSTIFY, leftIndent=2 * size,
                               firstLineIndent=-1.5 * size),
        "line": ParagraphStyle("line", **base, alignment=TA_LEFT),
        "right": ParagraphStyle("right", **base, alignment=TA_RIGHT),
        "cell": ParagraphStyle("cell", **{**base, "fontSize": size - 1, "leading": leading - 4}),
        "head": ParagraphStyle("head", **{**base, "fontSize": size - 1, "leading": leading - 4},
                               alignment=TA_CENTER),
    }

    story = []
    for i, block in enumerate(blocks):
        kind = block[0]
        if kind == "table":
            header, rows, widths = block[1], block[2], block[3]
            data = [[Paragraph(escape(c), styles["head"]) for c in header]]
            data += [[Paragraph(escape(c), styles["cell"]) for c in row] for row in rows]
            t = Table(data, colWidths=[w * cm for w in widths], repeatRows=1)
            t.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]))
            story += [Spacer(1, 4), t, Spacer(1, 8)]
        else:
            if kind == "right" and i and blocks[i - 1][0] != "right":
                story.append(Spacer(1, leading))
            story.append(Paragraph(escape(block[1]), styles[kind]))

    total = {"pages": s.get("pages", 1)}

    def decorate(canv, doc):
        canv.saveState()
        canv.setFont(font, 9)
        width, height = A4
        header, footer = furniture(name, canv.getPageNumber(), total["pages"])
        if header:
            canv.drawCentredString(width / 2, height - 1.6 * cm, header)
            canv.setLineWidth(0.5)
            canv.line(2.5 * cm, height - 1.8 * cm, width - 2.5 * cm, height - 1.8 * cm)
        if footer:
            canv.drawCentredString(width / 2, 1.4 * cm, footer)
        canv.restoreState()

    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=2.6 * cm, rightMargin=2.6 * cm, topMargin=2.5 * cm,
        bottomMargin=2.4 * cm, title=s["title"], author=s["author"], subject=s["subject"],
        creator=s["author"])
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return doc.page


def build_all():
    import io

    from reportlab import rl_config

    rl_config.invariant = 1
    for name, (_, s) in DOCUMENTS.items():
        pages = _build(name, io.BytesIO())  # first pass: count the pages for "共 M 页"
        s["pages"] = pages
        _build(name, str(DOCS / name))
        print(f"{name}: {pages} page(s)")


def check():
    """Extract the text again (pypdf) and check the page count and the page-break paragraph."""
    import pypdf

    ok = True
    for name, (blocks, s) in DOCUMENTS.items():
        pages = [p.extract_text() for p in pypdf.PdfReader(str(DOCS / name)).pages]
        if len(pages) != s["pages"]:
            print(f"{name}: {len(pages)} pages, expected {s['pages']}")
            ok = False
        if s["crossing"]:
            para = next(b[1] for b in blocks if b[0] == "p" and b[1].startswith(s["crossing"]))
            head, tail = para[:12], para[-8:]
            flat = [p.replace("\n", "") for p in pages]
            if not (head in flat[0] and head not in flat[1] and tail in flat[1]
                    and tail not in flat[0]):
                print(f"{name}: the paragraph {s['crossing']!r} does not cross the page break")
                ok = False
    return ok


if __name__ == "__main__":
    build_all()
    raise SystemExit(0 if check() else 1)
