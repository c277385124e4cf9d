"""UI labels in English and Chinese. KPI names come from ``cxlens.metrics.KPIS`` itself."""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("en", "zh")

LABELS: Final[dict[str, tuple[str, str]]] = {
    # key: (English, 中文)
    "app": ("cxlens", "cxlens"),
    "overview": ("Overview", "总览"),
    "journeys": ("Journeys", "客户旅程"),
    "customers": ("Customers", "客户"),
    "agents": ("Agents & queues", "坐席与队列"),
    "quality": ("Data quality", "数据质量"),
    "workforce": ("Workforce", "排班预测"),
    "contacts": ("Contacts", "联络明细"),
    "login": ("Log in", "登录"),
    "logout": ("Log out", "退出"),
    "username": ("User name", "用户名"),
    "password": ("Password", "密码"),
    "bad_login": ("Wrong user name or password.", "用户名或密码错误。"),
    "locked_out": (
        "Too many failed attempts; try again in 5 minutes.",
        "失败次数过多，请 5 分钟后再试。",
    ),
    "period": ("Period", "期间"),
    "from": ("From", "开始"),
    "to": ("To", "结束"),
    "channel": ("Channel", "渠道"),
    "queue": ("Queue", "队列"),
    "tier": ("Tier", "客户等级"),
    "all": ("All", "全部"),
    "apply": ("Apply", "应用"),
    "reset": ("Reset", "重置"),
    "no_data": ("No data yet", "暂无数据"),
    "no_data_hint": (
        "Run `cxlens run` (or `cxlens demo`) to fill this view.",
        "请先运行 `cxlens run`（或 `cxlens demo`）生成数据。",
    ),
    "previous": ("previous period", "上期"),
    "vs_prev": ("vs previous period", "环比"),
    "trend": ("Trend", "趋势"),
    "contacts_per_day": ("Contacts per day", "每日联络量"),
    "heatmap": ("Peaks: contacts by weekday × hour", "高峰：星期 × 小时联络量"),
    "channel_mix": ("Channel mix", "渠道构成"),
    "top_reasons": ("Top contact reasons", "主要联络原因"),
    "sankey": ("Channel paths of journeys", "客户旅程渠道路径"),
    "only_contact": ("(only contact)", "（仅一次联络）"),
    "fcr_by_reason": ("True vs channel FCR by reason", "按原因：真实首解率 vs 渠道首解率"),
    "fcr_true": ("True FCR (any channel)", "真实首解率（跨渠道）"),
    "fcr_channel": ("Channel FCR (per channel)", "渠道首解率（单渠道）"),
    "repeat_drivers": ("Repeat-contact drivers", "重复联络驱动因素"),
    "journeys_total": ("Journeys", "旅程数"),
    "repeat_rate": ("Repeat rate", "重复联络率"),
    "search_customer": (
        "Find a customer by phone, e-mail, account, order or WeChat id",
        "按电话、邮箱、账号、订单号或微信号查找客户",
    ),
    "search": ("Search", "查找"),
    "no_customer": ("No customer found for this identifier.", "未找到该标识对应的客户。"),
    "timeline": ("Cross-channel timeline", "跨渠道时间线"),
    "profile": ("Customer 360", "客户360视图"),
    "identifiers": ("Identifiers", "标识"),
    "by_agent": ("By agent", "按坐席"),
    "by_team": ("By team", "按团队"),
    "by_queue": ("By queue", "按队列"),
    "qa_scorecards": ("QA scorecards", "质检评分卡"),
    "sentiment_trend": ("Sentiment trend", "情绪趋势"),
    "forecast_vs_actual": ("Forecast vs actual contacts", "预测与实际联络量"),
    "staffing_plan": ("Staffing plan", "排班计划"),
    "peaks": ("Peaks", "高峰"),
    "rows": ("Rows", "行数"),
    "drill_down": ("Contacts behind this number", "该指标对应的联络"),
    "download_csv": ("Download CSV", "下载 CSV"),
    "forbidden": ("Your role cannot open this page.", "您的角色无权访问此页面。"),
    "error": ("Something went wrong", "出错了"),
    "busy": (
        "The warehouse is busy (a cxlens command is writing). Retry in a few seconds.",
        "数据仓库正忙（有 cxlens 命令在写入），请稍后重试。",
    ),
    "language": ("中文", "English"),
    "value": ("Value", "数值"),
    "agent": ("Agent", "坐席"),
    "team": ("Team", "团队"),
    "reason": ("Reason", "原因"),
    "count": ("Count", "数量"),
    "showing": ("Showing", "显示"),
    "of": ("of", "/"),
    "contacts_label": ("contacts", "条联络"),
    "weekday_names": ("Mon,Tue,Wed,Thu,Fri,Sat,Sun", "周一,周二,周三,周四,周五,周六,周日"),
    "report_title": ("Contact-centre monthly report", "联络中心月度报告"),
    "month": ("Month", "月份"),
    "table": ("Table", "表"),
    "source": ("Source", "来源"),
    "issues": ("Issues", "问题"),
    "generated": ("Generated", "生成时间"),
    "unavailable": (
        "This view needs the {module} module, which is not installed yet.",
        "此视图需要 {module} 模块，尚未安装。",
    ),
}


def label(key: str, lang: str) -> str:
    """The label for ``key`` in ``lang`` (the key itself when unknown, so gaps show, not crash)."""
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "zh" else pair[0]


def translator(lang: str):  # type: ignore[no-untyped-def]
    """A ``t(key)`` function for templates."""
    return lambda key, **kw: label(key, lang).format(**kw) if kw else label(key, lang)


# Channel and reason codes as chart labels (the data and the API keep the codes).
VALUES_ZH: Final[dict[str, str]] = {
    "phone": "电话",
    "ivr": "IVR",
    "chat": "在线客服",
    "email": "邮件",
    "web": "网站",
    "app": "App",
    "social": "社交媒体",
    "sms": "短信",
    "store": "门店",
    "billing": "账单",
    "delivery": "配送",
    "technical": "技术问题",
    "account_access": "账户登录",
    "product_enquiry": "产品咨询",
    "cancellation": "取消服务",
    "complaint": "投诉",
    "refund": "退款",
}


def value_label(value: object, lang: str) -> str:
    """A dimension value for display: channel and reason codes in Chinese when ``lang`` is zh."""
    text = str(value)
    return VALUES_ZH.get(text, text) if lang == "zh" else text
