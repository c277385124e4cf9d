"""Phrase banks for conversations, e-mails and survey comments (zh and en).

Placeholders: {product} {order} {amount} {n} {days} {agent} {name}. Customer phrases follow the
true reason and mood; agents' phrases follow the reason and whether they keep the QA rules.
"""

from __future__ import annotations

from typing import Final

T = dict[str, tuple[str, ...]]

REASON_OPEN: Final[dict[str, T]] = {
    "zh": {
        "billing": (
            "我这个月的账单多扣了{amount}元，", "账单上有一笔{amount}元的费用我不认识，",
            "为什么我被重复扣费了？", "我的套餐费用跟说好的不一样，", "发票金额和实际付款对不上，",
            "自动续费扣了我{amount}元，我没有同意过，", "账单里多了一项增值服务费，",
        ),
        "delivery": (
            "我的订单{order}到现在还没到，", "订单号 {order} 显示已签收但我根本没收到，",
            "我买的{product}已经{days}天了还没发货，", "物流信息{days}天没更新了，",
            "快递员说送到了驿站，可是驿站说没有，", "{product}送到的时候包装是破的，",
            "说好次日达，结果等了{days}天，",
        ),
        "technical": (
            "我的{product}连不上网了，", "{product}一直自动重启，", "App登录后一直闪退，",
            "{product}充不进电，", "升级固件以后{product}就用不了了，", "蓝牙配对总是失败，",
            "{product}屏幕突然黑屏，", "App同步数据一直失败，",
        ),
        "account_access": (
            "我的账号登录不上了，", "收不到验证码，没法登录，", "密码重置链接打不开，",
            "账号被锁定了，", "换了手机号以后登不上账号，", "提示账号异常，不让登录，",
        ),
        "product_enquiry": (
            "想问一下{product}有没有新款，", "{product}和上一代有什么区别？",
            "{product}支持七天无理由退货吗？", "会员年卡包含哪些权益？", "{product}保修多久？",
            "请问{product}现在有优惠活动吗？", "{product}能不能开发票？",
        ),
        "cancellation": (
            "我要取消我的套餐，", "请帮我注销会员，", "我不想续费了，帮我取消自动续费，",
            "我要退订你们的服务，", "这个套餐太贵了，我想取消，",
        ),
        "complaint": (
            "我要投诉你们的客服，", "你们的服务态度太差了，", "我要投诉快递员，",
            "上次答应给我回电话，一直没人打，", "我对你们的处理结果非常不满意，",
            "我要向消费者协会投诉，",
        ),
        "refund": (
            "我申请的退款{days}天了还没到账，", "订单{order}退货了，钱什么时候退？",
            "{product}退回去了，退款一直显示处理中，", "退款金额少了{amount}元，",
            "我要申请退款，{product}有质量问题，",
        ),
    },
    "en": {
        "billing": (
            "I was charged {amount} yuan extra on this month's bill. ",
            "There's a charge of {amount} yuan on my bill I don't recognise. ",
            "Why was I charged twice? ", "My plan price isn't what I was promised. ",
            "The invoice doesn't match what I paid. ",
            "Auto-renewal took {amount} yuan without my consent. ",
        ),
        "delivery": (
            "My order {order} still hasn't arrived. ",
            "Order {order} says delivered but I never got it. ",
            "I ordered the {product} {days} days ago and it hasn't shipped. ",
            "The tracking hasn't updated in {days} days. ",
            "The {product} arrived with the box damaged. ",
            "It was supposed to be next-day delivery, it's been {days} days. ",
        ),
        "technical": (
            "My {product} won't connect to Wi-Fi. ", "The {product} keeps rebooting. ",
            "The app crashes right after I log in. ", "My {product} won't charge. ",
            "Since the firmware update my {product} doesn't work. ",
            "Bluetooth pairing keeps failing. ", "The app won't sync my data. ",
        ),
        "account_access": (
            "I can't log in to my account. ", "I'm not receiving the verification code. ",
            "The password reset link doesn't work. ", "My account has been locked. ",
            "I changed my phone number and now I can't log in. ",
        ),
        "product_enquiry": (
            "Is there a newer model of the {product}? ",
            "What's the difference between this {product} and the last one? ",
            "Can I return the {product} within seven days? ",
            "What does the annual membership include? ",
            "How long is the warranty on the {product}? ",
            "Are there any discounts on the {product} right now? ",
        ),
        "cancellation": (
            "I want to cancel my plan. ", "Please cancel my membership. ",
            "I don't want it to renew, please turn off auto-renewal. ",
            "The plan is too expensive, I'd like to cancel. ",
        ),
        "complaint": (
            "I want to make a complaint about your service. ",
            "Your staff were really rude to me. ", "I want to complain about the courier. ",
            "You promised to call me back and nobody did. ",
            "I'm very unhappy with how this was handled. ",
        ),
        "refund": (
            "My refund still hasn't come through after {days} days. ",
            "I returned order {order}, when do I get my money back? ",
            "I sent the {product} back and the refund is still 'processing'. ",
            "The refund was {amount} yuan short. ",
            "I want a refund, the {product} is faulty. ",
        ),
    },
}

MOOD_PREFIX: Final[dict[str, T]] = {
    "zh": {
        "angry": ("你们到底怎么回事？", "太离谱了！", "我真的很生气，", "气死我了，",
                  "这已经是我第{n}次联系你们了！", "你们能不能负点责任？"),
        "frustrated": ("唉，", "又是我，", "我有点着急，", "麻烦快点处理一下，",
                       "之前联系过一次了，", "等了好久了，"),
        "neutral": ("你好，", "您好，", "请问一下，", "在吗？", "", "打扰一下，"),
        "positive": ("你好呀，", "您好，谢谢你们，", "你好，你们的东西挺好用的，"),
    },
    "en": {
        "angry": ("This is ridiculous! ", "I'm really angry. ", "What is going on with you? ",
                  "This is the {n}th time I've contacted you! ", "Unbelievable. "),
        "frustrated": ("Sigh. ", "Me again. ", "I've been waiting ages. ",
                       "I already contacted you about this. ", "Please sort this out quickly. "),
        "neutral": ("Hi, ", "Hello, ", "Good morning, ", "Hi there. ", ""),
        "positive": ("Hi! Love your products. ", "Hello, thanks for the help last time. "),
    },
}

MOOD_TAIL: Final[dict[str, T]] = {
    "zh": {
        "angry": ("今天必须给我解决！", "再不解决我就投诉了。", "你们就是这样对待老客户的？",
                  "我要求马上处理。"),
        "frustrated": ("能帮我看看吗？", "希望这次能解决。", "到底什么时候能好？", "麻烦尽快。"),
        "neutral": ("请帮我查一下。", "麻烦看一下。", "谢谢。", "怎么处理呢？"),
        "positive": ("谢谢！", "辛苦了。"),
    },
    "en": {
        "angry": ("Fix it today or I'm leaving.", "I want this sorted right now.",
                  "Is this how you treat loyal customers?", "I'll be filing a complaint."),
        "frustrated": ("Can you please look into it?", "Hoping this time it gets fixed.",
                       "When will this be sorted?", "Please hurry."),
        "neutral": ("Could you check please?", "Thanks.", "What should I do?",
                    "Can you help?"),
        "positive": ("Thanks!", "Cheers."),
    },
}

GREETING: Final[T] = {
    "zh": ("您好，很高兴为您服务，我是客服{agent}。", "您好，这里是客户服务中心，工号{agent}为您服务。",
           "您好，请问有什么可以帮您？", "您好，欢迎致电客服中心，我是{agent}。"),
    "en": ("Hello, thank you for contacting us, my name is {agent}.",
           "Hi, this is {agent} from customer service, how can I help?",
           "Good day, you're speaking with {agent}. How may I help you?"),
}
BOT_GREETING: Final[T] = {
    "zh": ("您好，我是智能助手小C，请简单描述您的问题。", "欢迎咨询！请问您遇到了什么问题？"),
    "en": ("Hi, I'm the virtual assistant. Please describe your issue briefly.",
           "Welcome! What can I help you with today?"),
}
BOT_HANDOVER: Final[T] = {
    "zh": ("正在为您转接人工客服，请稍候。", "小C没能解决您的问题，马上为您转人工。"),
    "en": ("Connecting you to an agent, please wait.", "Let me transfer you to a colleague."),
}
VERIFY: Final[T] = {
    "zh": ("为了保护您的账户安全，请提供一下注册手机号。", "麻烦核实一下您的身份，请问您的姓名和手机号是？",
           "请提供一下订单号或者注册手机号，我帮您核实身份。"),
    "en": ("For security, could you confirm the phone number on the account?",
           "May I verify your identity first? Your name and phone number please.",
           "Could you give me your order number or registered phone to verify the account?"),
}
VERIFY_ANSWER: Final[T] = {
    "zh": ("我的手机号是{phone}。", "手机号{phone}，我叫{name}。", "我叫{name}，电话{phone}。",
           "注册手机是{phone}。"),
    "en": ("My number is {phone}.", "It's {name}, phone {phone}.", "The phone is {phone}."),
}
PII_EXTRA: Final[dict[str, T]] = {
    "zh": {
        "id_card": ("身份证号是{id_card}。", "我的身份证{id_card}，你们查一下。"),
        "bank_card": ("扣款的银行卡是{bank_card}。", "退款请退到这张卡：{bank_card}。"),
        "email": ("结果发我邮箱{email}。", "我的邮箱是{email}。"),
    },
    "en": {
        "id_card": ("My ID number is {id_card}.",),
        "bank_card": ("The card charged was {bank_card}.", "Refund to card {bank_card} please."),
        "email": ("Email me at {email}.", "My email is {email}."),
    },
}
EMPATHY: Final[T] = {
    "zh": ("非常抱歉给您带来不便，我理解您的心情。", "真的很抱歉让您久等了，我马上帮您处理。",
           "理解您的着急，给您添麻烦了，非常抱歉。", "您别着急，我一定尽力帮您解决。"),
    "en": ("I'm really sorry about this, I understand how frustrating it is.",
           "Apologies for the trouble, let me sort this out for you right away.",
           "I completely understand, and I'm sorry you've had to contact us again."),
}
SOLUTION: Final[dict[str, T]] = {
    "zh": {
        "billing": ("我查到确实多扣了，已经为您申请退回，3到5个工作日到账。", "这笔是增值服务费，我已经帮您关闭并退款。",
                    "系统显示是重复扣费，已提交财务处理。"),
        "delivery": ("我已经联系物流催件，预计明天送达。", "包裹在分拣中心滞留了，我帮您加急处理。",
                     "已经给您重新发货，新的单号稍后短信通知。"),
        "technical": ("请您长按电源键十秒重启一下试试。", "请把App更新到最新版本再登录。",
                      "可能是设备故障，我帮您安排上门检测。", "我已经帮您重置了设备配置。"),
        "account_access": ("我已经帮您解锁账号，请重新设置密码。", "验证码已经重新发送，请查收短信。",
                           "我帮您把绑定手机号更新好了。"),
        "product_enquiry": ("{product}新款下个月上市，现在下单有优惠。", "{product}保修一年，支持七天无理由退货。",
                            "会员年卡包含免运费和专属客服。"),
        "cancellation": ("已经为您取消自动续费。", "您的套餐会在本期结束后停止。",
                         "我可以给您申请一个八折优惠，您考虑一下要不要保留？"),
        "complaint": ("您的投诉我已经记录，会在24小时内给您回复。", "我已经把情况升级给主管处理。",
                      "非常抱歉，我们会对相关人员进行处理。"),
        "refund": ("退款已经审核通过，1到3个工作日到账。", "我帮您加急处理退款。",
                   "差额部分我已经为您补退。"),
    },
    "en": {
        "billing": ("I can see the extra charge, I've requested a refund, 3-5 working days.",
                    "That's an add-on service fee, I've removed it and refunded you.",
                    "It's a duplicate charge, I've passed it to our finance team."),
        "delivery": ("I've chased the courier, it should arrive tomorrow.",
                     "The parcel was stuck at the depot, I've expedited it.",
                     "I've sent a replacement, you'll get the new tracking number by SMS."),
        "technical": ("Please hold the power button for ten seconds to restart it.",
                      "Please update the app to the latest version and log in again.",
                      "It may be faulty, I'll book an engineer visit.",
                      "I've reset the device configuration for you."),
        "account_access": ("I've unlocked the account, please set a new password.",
                           "I've resent the code, please check your messages.",
                           "I've updated the phone number on your account."),
        "product_enquiry": ("The new {product} launches next month, there's a pre-order discount.",
                            "The {product} has a one-year warranty and a 7-day return policy.",
                            "The membership includes free shipping and a dedicated line."),
        "cancellation": ("I've turned off auto-renewal.",
                         "Your plan will end at the end of this billing period.",
                         "I can offer you 20% off if you'd like to stay?"),
        "complaint": ("I've logged your complaint, you'll hear back within 24 hours.",
                      "I've escalated this to my supervisor.",
                      "I'm sorry, we'll follow this up with the team involved."),
        "refund": ("The refund is approved, 1-3 working days.", "I've expedited your refund.",
                   "I've refunded the difference."),
    },
}
NO_SOLUTION: Final[T] = {
    "zh": ("这个需要后台核实，我们会再联系您。", "目前系统查不到，建议您过两天再看看。",
           "这个我这边处理不了，需要您再提交一次申请。"),
    "en": ("This needs checking by the back office, we'll get back to you.",
           "I can't see anything on the system yet, please check again in a couple of days.",
           "I can't do that from here, you'll need to submit another request."),
}
FORBIDDEN: Final[T] = {
    "zh": ("这不是我们的问题。", "这个不归我管。", "你自己去问快递。", "我也没办法。"),
    "en": ("That's not my problem.", "That's not our fault.", "Not my department.",
           "There's nothing I can do."),
}
CUSTOMER_END: Final[dict[str, dict[int, tuple[str, ...]]]] = {
    "zh": {
        1: ("好的，谢谢你！", "太好了，问题解决了，谢谢。", "明白了，辛苦了。", "好的，麻烦你了，谢谢！"),
        0: ("好吧，那我等等看。", "行吧。", "知道了。", "那我过两天再看看。"),
        -1: ("你们这样处理我不能接受。", "算了，我还是投诉吧。", "每次都这么说，根本没用。",
             "我会考虑换一家。"),
    },
    "en": {
        1: ("Great, thanks so much!", "Perfect, that fixed it. Thanks.", "Thanks for your help.",
            "Brilliant, cheers."),
        0: ("OK, I'll wait and see.", "Fine.", "Alright.", "I'll check again in a few days."),
        -1: ("That's not acceptable.", "Forget it, I'll complain.", "You always say that.",
             "I'm thinking of switching provider."),
    },
}
CLOSING: Final[T] = {
    "zh": ("请问还有其他可以帮您的吗？感谢来电，祝您生活愉快！", "感谢您的耐心，再见！",
           "稍后会有满意度评价，麻烦您给个好评，再见。", "感谢您的咨询，祝您愉快！"),
    "en": ("Is there anything else I can help with? Thanks for contacting us, goodbye!",
           "Thank you for your patience, have a great day.",
           "Thanks for getting in touch, take care."),
}
EMAIL_SUBJECT: Final[dict[str, T]] = {
    "zh": {
        "billing": ("账单问题", "重复扣费", "关于本月账单"), "delivery": ("订单未收到", "物流问题 {order}"),
        "technical": ("设备故障", "{product}无法使用"), "account_access": ("无法登录账号", "账号被锁"),
        "product_enquiry": ("产品咨询", "关于{product}"), "cancellation": ("取消套餐", "申请注销"),
        "complaint": ("投诉", "服务投诉"), "refund": ("退款问题 {order}", "退款未到账"),
    },
    "en": {
        "billing": ("Billing issue", "Charged twice", "Question about my bill"),
        "delivery": ("Order not received", "Delivery problem {order}"),
        "technical": ("Device fault", "{product} not working"),
        "account_access": ("Can't log in", "Account locked"),
        "product_enquiry": ("Product question", "About the {product}"),
        "cancellation": ("Cancel my plan", "Cancellation request"),
        "complaint": ("Complaint", "Formal complaint"),
        "refund": ("Refund {order}", "Refund not received"),
    },
}
EMAIL_SIGN: Final[T] = {"zh": ("\n\n{name}", "\n\n谢谢\n{name}", "\n\n盼复。{name}"),
                        "en": ("\n\nRegards,\n{name}", "\n\nThanks,\n{name}", "\n\n{name}")}
SURVEY_COMMENT: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "zh": {
        "low": ("问题一直没解决，很失望。", "打了好几次电话，太折腾了。", "等待时间太长了。",
                "客服态度不好。", "说好回电话也没回。", "解决不了问题，体验很差。"),
        "mid": ("还行吧，就是等得有点久。", "问题解决了，但过程有点麻烦。", "一般般。"),
        "high": ("客服很耐心，问题很快解决了，谢谢！", "服务很好，点赞！", "非常满意，效率很高。",
                 "小姐姐很专业，一次就解决了。"),
    },
    "en": {
        "low": ("Still not fixed, very disappointed.", "Had to call several times, exhausting.",
                "Waited far too long.", "The agent was unhelpful.", "Nobody called me back."),
        "mid": ("OK, but the wait was long.", "Sorted in the end, but it took effort.",
                "Average."),
        "high": ("Very patient agent, fixed quickly, thanks!", "Great service!",
                 "Really happy, sorted first time.", "Professional and friendly."),
    },
}
CASE_SUBJECT: Final[dict[str, str]] = {
    "billing": "账单争议 / billing dispute", "delivery": "物流异常 / delivery exception",
    "technical": "设备故障工单 / technical fault", "account_access": "账号解锁 / account unlock",
    "product_enquiry": "产品咨询跟进 / product follow-up", "cancellation": "挽留 / retention",
    "complaint": "客户投诉 / customer complaint", "refund": "退款申请 / refund request",
}
SPEAKER_LABEL: Final = {"zh": {"customer": "客户", "agent": "客服", "bot": "机器人", "system": "系统"},
                        "en": {"customer": "Customer", "agent": "Agent", "bot": "Bot",
                               "system": "System"}}
IVR_TEXT: Final[T] = {
    "zh": ("欢迎致电客服中心。查询订单请按1，账单请按2，技术支持请按3，人工服务请按0。",),
    "en": ("Welcome. For orders press 1, billing press 2, technical support press 3, "
           "or press 0 for an agent.",),
}
