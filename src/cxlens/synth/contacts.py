"""One contact of a journey: IVR leg, queue wait, agent, talk, words, survey and case.

Writes the operational rows (interactions, messages, surveys, cases) the way each system would
record them — including which identifiers that system sees — and the truth rows beside them.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from cxlens.schema import REASONS, interaction_id
from cxlens.synth import people as pp
from cxlens.synth import text as tx
from cxlens.synth import vocab
from cxlens.synth.centre import INTERVAL_S, PATIENCE_MEAN_S, Agent
from cxlens.synth.journeys import (
    CHANNEL_LOGIT,
    MOOD_BASE,
    RESOLVE_BASE,
    TALK_MEAN_S,
    _logit,
    _Result,
    _sigmoid,
    route_queue,
)
from cxlens.synth.people import DAY, Person, scramble

if TYPE_CHECKING:
    from cxlens.synth.journeys import ChunkSim, Problem

_result = _Result
_AMOUNT_FACTORS = (0.1, 0.5, 1, 1, 2)
_EMPTY = "[]"
# the C string encoder json.dumps(..., ensure_ascii=False) itself uses
_json_str = json.encoder.encode_basestring


def _documents(p: Person, seed: int) -> tuple[str, str]:
    """The person's resident ID and bank card (fixed per person, valid check digits)."""
    birth = f"{p.birth_date.year:04d}{p.birth_date.month:02d}{p.birth_date.day:02d}"
    seq = scramble(p.idx, 500, seed * 16 + 8) * 2 + (1 if p.gender == "M" else 0)  # odd = male
    card = tx.luhn_complete("6222" + f"{scramble(p.idx, 10**11, seed * 16 + 7):011d}")
    return tx.resident_id(vocab.ID_REGION[p.city], birth, seq % 1000), card


def _speaker(sim: ChunkSim, p: Person) -> tx.Speaker:
    rng = sim.rng
    docs = sim.documents.get(p.idx)
    if docs is None:
        docs = sim.documents[p.idx] = _documents(p, sim.config.seed)
    id_card, card = docs
    if rng.random() < 0.4:
        card = " ".join(card[i:i + 4] for i in range(0, 16, 4))
    return tx.Speaker(
        name=p.name, phone_written=pp.write_mobile(rng, p.mobile),
        email=pp.write_email(rng, p.email) if p.email else None,
        id_card=id_card, bank_card=card,
    )


def _mood(sim: ChunkSim, reason: str, attempt: int, wait: float) -> tuple[str, int]:
    score = MOOD_BASE[reason] - 0.55 * attempt - min(wait, 900.0) / 300.0 + sim.rng.gauss(0, 0.6)
    if score < -1.2:
        return "angry", -1
    if score < -0.3:
        return "frustrated", -1
    if score < 0.9:
        return "neutral", 0
    return "positive", 1


def _end_sentiment(sim: ChunkSim, start: int, resolved: bool) -> int:
    r = sim.rng.random()
    if resolved:
        return 1 if (start >= 0 or r < 0.45) else 0
    if start > 0:
        return 0
    return -1 if (start < 0 or r < 0.5) else 0


def _pick_agent(sim: ChunkSim, queue: str, t: float) -> Agent:
    c = sim.c
    day = min(max(int(t // DAY), 0), sim.config.days - 1)
    interval = int((t % DAY) // INTERVAL_S)
    pool = sim.on_shift[queue][day][interval]
    if not len(pool):
        pool = sim.any_on_shift[day][interval]
    if not len(pool):
        members = [a for a in c.agents if a.queue == queue]
        return members[sim.rng.randrange(len(members))]
    return c.agents[int(pool[sim.rng.randrange(len(pool))])]


def _truth_interaction(sim: ChunkSim, iid: str, prob: Problem, attempt: int, channel: str,
                       resolved: bool, mood: str, s0: int, s1: int, csat: int | None,
                       agent: Agent | None, pii: list, qa: list) -> None:
    # column order of rows.TRUTH_SCHEMAS["interactions"] (tuple-buffered)
    sim.b["truth:interactions"].tuples.append((
        iid, prob.person.person_id, prob.problem_id, attempt, channel, prob.reason, resolved,
        s0, s1, mood, csat, agent.agent_id if agent else None,
        _pii_json(pii) if pii else _EMPTY, _qa_json(qa) if qa else _EMPTY))


def _pii_json(spans: list[dict[str, str]]) -> str:
    """``json.dumps(spans, ensure_ascii=False)``, byte for byte, ~5x faster for the planted
    ``{"type", "text"}`` spans (anything else goes to the general encoder)."""
    if all(tuple(d) == _SPAN_KEYS and type(d["type"]) is str and type(d["text"]) is str
           for d in spans):
        return "[" + ", ".join('{"type": ' + _json_str(d["type"]) + ', "text": '
                               + _json_str(d["text"]) + "}" for d in spans) + "]"
    return json.dumps(spans, ensure_ascii=False)


_SPAN_KEYS = ("type", "text")
_QA_JSON: dict[tuple[str, ...], str] = {}


def _qa_json(rules: list[str]) -> str:
    """``json.dumps(rules)``, cached: only a few rule combinations exist."""
    key = tuple(rules)
    out = _QA_JSON.get(key)
    if out is None:
        out = _QA_JSON[key] = json.dumps(rules)
    return out


def assisted_contact(sim: ChunkSim, prob: Problem, channel: str, attempt: int, t: float,
                     order: tuple[float, str, int] | None) -> _Result:
    """Simulate one attempt on ``channel``; writes its rows and returns the outcome."""
    rng, p = sim.rng, prob.person
    legs = 0
    queue = route_queue(p, prob.reason)
    day = min(max(int(t // DAY), 0), sim.config.days - 1)
    interval = int((t % DAY) // INTERVAL_S)
    congestion = sim.wait_prob[queue][day][interval]
    ani = None
    if channel == "phone":
        from_landline = p.landline is not None and rng.random() < 0.35
        ani = (pp.write_landline(rng, p.landline, len(p.area_code)) if from_landline
               else pp.write_mobile(rng, p.mobile))
        if rng.random() < 0.7:  # the IVR leg before the queue
            sid = sim.next_id("IV")
            dur = rng.uniform(25, 140)
            hangup = rng.random() < 0.08
            sim.b["interactions"].add(
                source="ivr", source_id=sid, channel="ivr", direction="inbound", started_at=t,
                ended_at=t + dur, wait_s=0.0, talk_s=round(dur, 1), transfers=0,
                abandoned=hangup, disposition="hangup" if hangup else "to_agent",
                language="zh" if p.language == "zh" else "en", phone=ani,
                account=pp.write_account(rng, p.account) if rng.random() < 0.35 else None,
                text=tx.tp.IVR_TEXT[p.language][0])
            sim.record("interactions", "ivr", sid, p)
            mood, s0 = _mood(sim, prob.reason, attempt, 0.0)
            _truth_interaction(sim, interaction_id("ivr", sid), prob, attempt, "ivr", False, mood,
                               s0, s0, None, None, [], [])
            legs += 1
            t += dur
            if hangup:
                return _result(False, False, t, legs)
        wait = rng.expovariate(1 / sim.wait_mean[queue][day][interval]) \
            if rng.random() < congestion else 0.0
        patience = rng.expovariate(1 / (PATIENCE_MEAN_S * p.patience))
        if wait > patience:
            sid = sim.next_id("CDR")
            sim.b["interactions"].add(
                source="pbx", source_id=sid, channel="phone", direction="inbound", queue=queue,
                started_at=t, ended_at=t + patience, wait_s=round(patience, 1), talk_s=0.0,
                hold_s=0.0, acw_s=0.0, transfers=0, abandoned=True, disposition="abandoned",
                language=p.language, phone=ani)
            sim.record("interactions", "pbx", sid, p)
            mood, s0 = _mood(sim, prob.reason, attempt, patience)
            _truth_interaction(sim, interaction_id("pbx", sid), prob, attempt, "phone", False,
                               mood, s0, s0, None, None, [], [])
            return _result(False, False, t + patience, legs + 1)
        source, prefix = "pbx", "CDR"
    elif channel == "chat":
        wait = rng.expovariate(1 / (12 + 80 * congestion))
        if wait > rng.expovariate(1 / 300):
            sid = sim.next_id("CH")
            # draw first so the stream is the same whether or not the site cookie replaces it
            device = p.devices[int(rng.random() * len(p.devices))]
            sim.b["interactions"].add(
                source="chat", source_id=sid, channel="chat", direction="inbound", queue=queue,
                started_at=t, ended_at=t + wait, wait_s=round(wait, 1), transfers=0,
                abandoned=True, disposition="abandoned", language=p.language,
                device=sim.site_cookie(p, t) or device)
            sim.record("interactions", "chat", sid, p)
            mood, s0 = _mood(sim, prob.reason, attempt, wait)
            _truth_interaction(sim, interaction_id("chat", sid), prob, attempt, "chat", False,
                               mood, s0, s0, None, None, [], [])
            return _result(False, False, t + wait, legs + 1)
        source, prefix = "chat", "CH"
    elif channel == "email":
        weekend = (sim.config.start_date.weekday() + day) % 7 >= 5
        wait = rng.expovariate(1 / (4 * 3600)) * (1.8 if weekend else 1.0) * (
            2.0 if prob.incident else 1.0) + 300
        source, prefix = "email", "EM"
    else:
        wait = rng.expovariate(1 / (2 * 3600)) + 120
        source = "weibo" if p.weibo and (not p.wechat or rng.random() < 0.5) else "wechat"
        prefix = "WB" if source == "weibo" else "WX"

    agent = _pick_agent(sim, queue, t + wait)
    transfers = 1 if rng.random() < (0.08 if channel == "phone" else 0.04 if channel == "chat"
                                     else 0.0) else 0
    incident_penalty = 0.6 if prob.incident else 0.0
    logit = (_logit(RESOLVE_BASE[prob.reason]) + agent.resolve_effect + CHANNEL_LOGIT[channel]
             - 0.45 * transfers - incident_penalty + 0.15 * attempt)
    resolved = rng.random() < _sigmoid(logit)
    mood, s0 = _mood(sim, prob.reason, attempt, wait if channel in ("phone", "chat") else 0.0)
    s1 = _end_sentiment(sim, s0, resolved)
    rules = tx.RULES_BY_CHANNEL[channel]
    violations = []
    for rule in rules:
        risk = agent.qa_risk * (1.5 if rule == "empathy" else 0.35
                                if rule == "forbidden_phrase" else 1.0)
        if rule == "empathy" and s0 >= 0:
            continue
        if rng.random() < risk:
            violations.append(rule)
    if "forbidden_phrase" in violations:
        s1 = min(s1, 0)
    mean_talk = TALK_MEAN_S[prob.reason] * agent.aht_factor * (1.4 if transfers else 1.0)
    sigma = 0.45
    talk = rng.lognormvariate(math.log(mean_talk) - sigma * sigma / 2, sigma)
    if channel == "chat":
        talk *= 1.6  # chats interleave with other chats
    if order is not None:
        product_i = order[2]
    else:
        product_i = rng.randrange(len(vocab.PRODUCTS))
    if prob.reason == "technical" and product_i not in vocab.DEVICES:
        product_i = vocab.DEVICES[int(rng.random() * len(vocab.DEVICES))]
    zh_name, en_name, price = vocab.PRODUCTS[product_i]
    conv = tx.conversation(
        rng, lang=p.language, channel=channel, reason=prob.reason, mood=mood,
        sentiment_start=s0, sentiment_end=s1, resolved=resolved, attempt=attempt,
        duration_s=talk if channel in ("phone", "chat") else wait, customer=_speaker(sim, p),
        agent_name=agent.name if p.language == "zh" or " " in agent.name else agent.agent_id,
        violations=violations, product=zh_name if p.language == "zh" else en_name,
        order=order[1] if order else None, amount=int(price * _AMOUNT_FACTORS[int(rng.random() * 5)]),
        days_waiting=rng.randint(2, 9), pii_rate=0.28,
    )
    sid = sim.next_id(prefix)
    iid = interaction_id(source, sid)
    claimed = resolved or rng.random() < 0.35  # agents mark resolved optimistically
    if claimed:
        disposition = "resolved"
    elif prob.reason == "complaint":
        disposition = "escalated"
    else:
        disposition = "callback" if rng.random() < 1 / 3 else "follow_up"
    if transfers and not claimed:
        disposition = "transferred"
    wrap = None
    if rng.random() < 0.7:
        wrap = prob.reason if rng.random() >= 0.05 else rng.choice(
            [r for r in REASONS if r != prob.reason])
    elif sim.case_rng.random() < WRAP_EXTRA:  # mandatory wrap-up: ~92 % coded in all
        crng = sim.case_rng
        wrap = prob.reason if crng.random() >= 0.05 else crng.choice(
            [r for r in REASONS if r != prob.reason])
    hold = rng.expovariate(1 / 70) + 10 if channel == "phone" and rng.random() < 0.3 else 0.0
    acw = 15 + rng.expovariate(1 / 35) * agent.aht_factor
    answered = t + wait
    if channel in ("phone", "chat"):
        ended = answered + talk + hold
    else:
        ended = answered + 60
    row: dict[str, object] = dict(
        source=source, source_id=sid, interaction_id=iid, channel=channel if channel != "social"
        else "social", direction="inbound", queue=queue if channel in ("phone", "chat") else
        f"{channel}_{'en' if p.language == 'en' else 'zh'}", agent_id=agent.agent_id,
        started_at=t, answered_at=answered, ended_at=ended, wait_s=round(wait, 1),
        talk_s=round(talk, 1) if channel in ("phone", "chat") else None,
        hold_s=round(hold, 1), acw_s=round(acw, 1), transfers=transfers, abandoned=False,
        disposition=disposition, resolved=claimed, reason=wrap, language=p.language,
        subject=conv.subject, text=conv.text(p.language) if channel != "email"
        else conv.turns[0][1], case_id=_crm_case(sim, prob, channel),
    )
    if channel == "phone":
        row["phone"] = ani
    elif channel == "chat":
        if p.wechat and p.language == "zh" and rng.random() < 0.6:
            row["wechat"] = p.wechat
        else:
            row["device"] = (f"anon-{sid}" if rng.random() < 0.1 else p.devices[int(rng.random() * len(p.devices))])
            row["device"] = sim.site_cookie(p, t) or row["device"]
            if rng.random() < 0.55:
                row["account"] = pp.write_account(rng, p.account)
        if rng.random() < 0.4:
            row["contact_name"] = pp.typo_name(rng, p.name) if rng.random() < 0.1 else p.name
        if p.email and rng.random() < 0.15:
            row["email"] = pp.write_email(rng, p.email)
    elif channel == "email":
        row["email"] = pp.write_email(rng, p.email or "")
        row["thread_id"] = f"th-{prob.problem_id}"
        if rng.random() < 0.7:
            row["contact_name"] = p.name
    elif source == "weibo":
        row["handle"] = p.weibo
        if rng.random() < 0.5:
            row["contact_name"] = p.name
        if rng.random() < 0.6:
            row["contact_city"] = p.city
    else:
        row["wechat"] = p.wechat
    sim.b["interactions"].rows.append(row)
    sim.record("interactions", source, sid, p)
    base_ts = t if channel in ("email", "social") else answered
    messages, truth_messages = sim.b["messages"].tuples, sim.b["truth:messages"].tuples
    for seq, (speaker, words, offset, sentiment) in enumerate(conv.turns):
        messages.append((iid, source, f"{sid}:{seq}", seq, speaker, base_ts + offset, words))
        truth_messages.append((iid, seq, speaker, sentiment))
    csat = _true_csat(sim, agent, resolved, attempt, wait if channel == "phone" else 0.0,
                      transfers, s1)
    _truth_interaction(sim, iid, prob, attempt, channel, resolved, mood, s0, s1, csat, agent,
                       conv.pii, conv.violations)
    _survey(sim, p, iid, channel, ended, csat, attempt, resolved)
    _maybe_case(sim, prob, iid, t, attempt)
    return _result(True, resolved, ended + acw, legs + 1)


def _true_csat(sim: ChunkSim, agent: Agent, resolved: bool, attempt: int, wait: float,
               transfers: int, s1: int) -> int:
    s = (3.1 + 1.3 * resolved - 0.45 * attempt - min(wait, 900) / 300 + agent.csat_effect
         + 0.35 * s1 - 0.4 * transfers + sim.rng.gauss(0, 0.6))
    return int(min(5, max(1, round(s))))


def _survey(sim: ChunkSim, p: Person, iid: str, channel: str, ended: float, csat: int,
            attempt: int, resolved: bool) -> None:
    rng = sim.rng
    if channel == "social" or rng.random() > 0.7:
        return
    sid = sim.next_id("SV")
    responded = rng.random() < 0.15 * SURVEY_BIAS_[csat]
    sent = ended + 60
    row: dict[str, object] = dict(source="survey", source_id=sid, interaction_ref=iid,
                                  sent_at=sent, language=p.language)
    if channel == "email" and p.email:
        row["email"] = pp.write_email(rng, p.email)
    else:
        row["phone"] = pp.write_mobile(rng, p.mobile)
    if responded:
        row["responded_at"] = sent + rng.expovariate(1 / 10_800)
        row["csat"] = csat
        row["nps"] = int(min(10, max(0, round(2.3 * csat - 1.5 + rng.gauss(0, 1.2)))))
        row["ces"] = int(min(7, max(1, round(2 + 0.9 * attempt + (0 if resolved else 1.5)
                                             + rng.gauss(0, 1)))))
        if rng.random() < 0.5:
            row["comment"] = tx.survey_comment(rng, p.language, csat)
    sim.b["surveys"].add(**row)
    sim.record("surveys", "survey", sid, p)


def _crm_case(sim: ChunkSim, prob: Problem, channel: str) -> str:
    """The CRM case a handled contact is logged under (docs/synth.md, "Wrap-up codes and cases").

    The first handled contact of a problem opens a case; a follow-up is logged under the open case
    (e-mail replies always: same ticket) unless the agent misses it and opens a duplicate.
    """
    if prob.crm_case is None or (channel != "email" and sim.case_rng.random() >= CASE_LINK):
        prob.crm_case = sim.next_id("CRM")
    return prob.crm_case


WRAP_EXTRA = 0.73  # 0.7 + 0.3 × 0.73 ≈ 92 % of handled contacts carry a wrap-up code
CASE_LINK = 0.95   # share of phone/chat/social follow-ups logged under the problem's open case
SURVEY_BIAS_ = {1: 1.8, 2: 1.2, 3: 0.7, 4: 0.8, 5: 1.5}
CASE_CHANCE = {"complaint": 0.8, "refund": 0.5, "billing": 0.15, "technical": 0.15,
               "cancellation": 0.2, "delivery": 0.1, "account_access": 0.05,
               "product_enquiry": 0.02}


def _maybe_case(sim: ChunkSim, prob: Problem, iid: str, t: float, attempt: int) -> None:
    """Open a helpdesk case on the first assisted contact of some problems (closed later)."""
    if prob.case is not None:
        return
    rng = sim.rng
    chance = CASE_CHANCE[prob.reason] + (0.2 if attempt >= 2 else 0.0)
    if rng.random() >= chance:
        return
    p = prob.person
    prob.case = dict(
        source="helpdesk", source_id=sim.next_id("CS"), interaction_ref=iid, opened_at=t,
        reason=prob.reason,
        priority="high" if p.tier == "vip" or prob.reason == "complaint" else "normal",
        subject=tx.tp.CASE_SUBJECT[prob.reason],
        account=p.account if rng.random() < 0.8 else None,
        phone=pp.write_mobile(rng, p.mobile) if rng.random() < 0.7 else None,
        email=p.email if p.email and rng.random() < 0.3 else None,
    )


def close_case(sim: ChunkSim, prob: Problem, resolved: bool, gave_up: bool, end: float) -> None:
    case = prob.case
    if case is None:
        return
    if resolved:
        case.update(closed_at=end + sim.rng.expovariate(1 / 7_200), status="closed")
    elif gave_up:
        case.update(closed_at=end + 14 * DAY, status="closed_no_response")
    else:
        case.update(status="open")
    sim.b["cases"].add(**case)
    sim.record("cases", "helpdesk", str(case["source_id"]), prob.person)
