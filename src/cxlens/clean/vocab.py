"""Canonical vocabularies and the source spellings that map onto them.

Keys are lower-case with spaces and hyphens folded to ``_`` (see
:func:`cxlens.clean.values.map_vocabulary`). Channels and directions are those of
:mod:`cxlens.schema`; dispositions are defined here.
"""

from __future__ import annotations

from typing import Final

from cxlens import schema

# Outcome of a contact, as a contact-centre manager reads it.
DISPOSITIONS: Final = (
    "answered", "abandoned", "no_answer", "busy", "failed", "congestion", "rejected",
    "voicemail", "transferred", "resolved", "escalated", "follow_up", "callback", "hangup",
    "to_agent", "open", "pending", "closed",
)

CHANNEL_MAP: Final[dict[str, str]] = {
    **{c: c for c in schema.CHANNELS},
    "voice": "phone", "call": "phone", "telephone": "phone", "tel": "phone", "telephony": "phone",
    "callback": "phone", "voip": "phone", "电话": "phone", "语音": "phone", "呼叫": "phone",
    "chat": "chat", "webchat": "chat", "web_chat": "chat", "livechat": "chat",
    "live_chat": "chat", "web_widget": "chat", "messaging": "chat", "native_messaging": "chat",
    "chat_transcript": "chat", "api": "chat", "在线客服": "chat", "在线": "chat", "聊天": "chat",
    "email": "email", "mail": "email", "e_mail": "email", "邮件": "email", "电子邮件": "email",
    "sms": "sms", "text": "sms", "twilio": "sms", "短信": "sms",
    "ivr": "ivr", "自助语音": "ivr",
    "web": "web", "website": "web", "web_form": "web", "form": "web", "网站": "web",
    "app": "app", "mobile": "app", "mobile_sdk": "app", "android": "app", "ios": "app",
    "应用": "app",
    "social": "social", "wechat": "social", "weixin": "social", "weibo": "social",
    "twitter": "social", "facebook": "social", "instagram": "social", "whatsapp": "social",
    "line": "social", "telegram": "social", "微信": "social", "微博": "social",
    "store": "store", "walk_in": "store", "branch": "store", "shop": "store", "门店": "store",
}

DIRECTION_MAP: Final[dict[str, str]] = {
    "inbound": "inbound", "in": "inbound", "incoming": "inbound", "inb": "inbound",
    "呼入": "inbound", "来电": "inbound", "transfer": "inbound", "queue_transfer": "inbound",
    "outbound": "outbound", "out": "outbound", "outgoing": "outbound", "呼出": "outbound",
    "外呼": "outbound", "callback": "outbound", "api": "outbound",
    "internal": "internal", "local": "internal", "内部": "internal",
}

DISPOSITION_MAP: Final[dict[str, str]] = {
    **{d: d for d in DISPOSITIONS},
    "no_answer": "no_answer", "noanswer": "no_answer", "not_answered": "no_answer",
    "unanswered": "no_answer", "missed": "no_answer", "未接": "no_answer",
    "answer": "answered", "connected": "answered", "completed": "answered", "接通": "answered",
    "abandon": "abandoned", "caller_hangup": "abandoned", "放弃": "abandoned",
    "failure": "failed", "error": "failed", "busy": "busy", "忙": "busy",
    "congestion": "congestion", "voicemail": "voicemail", "transfer": "transferred",
    "solved": "resolved", "closed": "closed", "resolved": "resolved", "open": "open",
    "new": "open", "escalate": "escalated", "follow_up": "follow_up", "followup": "follow_up",
    "pending": "pending", "hold": "pending", "snoozed": "pending",
}

# ITU-T Q.850 cause (number and the FreeSWITCH/Asterisk name) → disposition when the call was
# *not* bridged. A bridged call is "answered" whatever its hang-up cause.
Q850: Final[dict[str, str]] = {
    "1": "failed", "unallocated_number": "failed",
    "3": "failed", "no_route_destination": "failed",
    "16": "abandoned", "normal_clearing": "abandoned",
    "17": "busy", "user_busy": "busy",
    "18": "no_answer", "no_user_response": "no_answer",
    "19": "no_answer", "no_answer": "no_answer",
    "20": "no_answer", "subscriber_absent": "no_answer",
    "21": "rejected", "call_rejected": "rejected",
    "27": "failed", "destination_out_of_order": "failed",
    "28": "failed", "invalid_number_format": "failed",
    "31": "abandoned", "normal_unspecified": "abandoned",
    "34": "congestion", "normal_circuit_congestion": "congestion",
    "38": "failed", "network_out_of_order": "failed",
    "41": "failed", "normal_temporary_failure": "failed",
    "42": "congestion", "switch_congestion": "congestion",
    "102": "failed", "recovery_on_timer_expire": "failed",
    "487": "abandoned", "originator_cancel": "abandoned",
    "600": "abandoned", "lose_race": "abandoned",
    "602": "transferred", "attended_transfer": "transferred",
    "603": "no_answer", "allotted_timeout": "no_answer",
    "609": "abandoned", "pickedoff": "answered",
}
