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
    RESOLVE_BASE,
    TALK_MEAN_S,
    _logit,
    _Result,
    _sigmoid,
    route_queue,
)
from cxlens.synth.outcomes import Answered, Leg
from cxlens.synth.people import DAY, Person, scramble

if TYPE_CHECKING:
    from cxlens.synth.journeys import ChunkSim, Problem

_result = _Result
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
    """Simulate one attempt on ``channel`` up to what later contacts depend on (queue, agent,
    resolution, times); its remaining outcomes are drawn per chunk (``outcomes.settle``)."""
    rng, p = sim.rng, prob.person
    legs = 0
    queue = route_queue(p, prob.reason)
    day = min(max(int(t // DAY), 0), sim.config.days - 1)
    interval = int((t % DAY) // INTERVAL_S)
    congestion = sim.wait_prob[queue][day][interval]
    pending = sim.pending
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
            pending.append(Leg(prob, attempt, "ivr", interaction_id("ivr", sid), 0.0))
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
            pending.append(Leg(prob, attempt, "phone", interaction_id("pbx", sid), patience))
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
            pending.append(Leg(prob, attempt, "chat", interaction_id("chat", sid), wait))
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
    mean_talk = TALK_MEAN_S[prob.reason] * agent.aht_factor * (1.4 if transfers else 1.0)
    talk = rng.lognormvariate(math.log(mean_talk) - _SIGMA2_HALF, _SIGMA)
    if channel == "chat":
        talk *= 1.6  # chats interleave with other chats
    hold = rng.expovariate(1 / 70) + 10 if channel == "phone" and rng.random() < 0.3 else 0.0
    acw = 15 + rng.expovariate(1 / 35) * agent.aht_factor
    ended = t + wait + talk + hold if channel in ("phone", "chat") else t + wait + 60
    sid = sim.next_id(prefix)
    pending.append(Answered(
        prob, attempt, channel, source, sid, queue, t, wait, agent, transfers, resolved, talk,
        hold, acw, ended, ani, sim.site_cookie(p, t) if channel == "chat" else None, order,
        _crm_case(sim, prob, channel)))
    return _result(True, resolved, ended + acw, legs + 1)


_SIGMA = 0.45
_SIGMA2_HALF = _SIGMA * _SIGMA / 2
_MOOD_NAMES = ("angry", "frustrated", "neutral", "positive")


def write_leg_truth(sim: ChunkSim, leg: Leg, mood: str, s0: int) -> None:
    """The truth row of an IVR leg or an abandoned call/chat (mood drawn per chunk)."""
    _truth_interaction(sim, leg.iid, leg.prob, leg.attempt, leg.channel, False, mood, s0, s0,
                       None, None, [], [])


def write_answered(sim: ChunkSim, e: Answered, mood_i: int, s0: int, s1: int,
                   slips: list[bool], csat: int, product_i: int, amount: int, days_waiting: int,
                   claimed: bool, callback: bool, coded: bool, wrap_i: int, asked: bool,
                   responded: bool, reply_after: float, nps: int, ces: int, comment: bool,
                   case_u: float) -> None:
    """Rows of one handled contact: interaction, messages, truth, survey, helpdesk case."""
    rng, prob, channel, sid, source = sim.rng, e.prob, e.channel, e.sid, e.source
    p = prob.person
    agent = e.agent
    iid = interaction_id(source, sid)
    mood = _MOOD_NAMES[mood_i]
    violations = [rule for rule, slipped in zip(tx.QA_RULES, slips, strict=True) if slipped]
    zh_name, en_name, _ = vocab.PRODUCTS[product_i]
    talk, wait = e.talk, e.wait
    live = channel in ("phone", "chat")
    conv = tx.conversation(
        rng, lang=p.language, channel=channel, reason=prob.reason, mood=mood,
        sentiment_start=s0, sentiment_end=s1, resolved=e.resolved, attempt=e.attempt,
        duration_s=talk if live else wait, customer=_speaker(sim, p),
        agent_name=agent.name if p.language == "zh" or " " in agent.name else agent.agent_id,
        violations=violations, product=zh_name if p.language == "zh" else en_name,
        order=e.order[1] if e.order else None, amount=amount, days_waiting=days_waiting,
        pii_rate=0.28,
    )
    if claimed:
        disposition = "resolved"
    elif prob.reason == "complaint":
        disposition = "escalated"
    else:
        disposition = "callback" if callback else "follow_up"
    if e.transfers and not claimed:
        disposition = "transferred"
    answered = e.t + wait
    row: dict[str, object] = dict(
        source=source, source_id=sid, interaction_id=iid, channel=channel, direction="inbound",
        queue=e.queue if live else f"{channel}_{'en' if p.language == 'en' else 'zh'}",
        agent_id=agent.agent_id, started_at=e.t, answered_at=answered, ended_at=e.ended,
        wait_s=round(wait, 1), talk_s=round(talk, 1) if live else None,
        hold_s=round(e.hold, 1), acw_s=round(e.acw, 1), transfers=e.transfers, abandoned=False,
        disposition=disposition, resolved=claimed, reason=REASONS[wrap_i] if coded else None,
        language=p.language, subject=conv.subject,
        text=conv.text(p.language) if channel != "email" else conv.turns[0][1],
        case_id=e.case_id,
    )
    if channel == "phone":
        row["phone"] = e.ani
    elif channel == "chat":
        if p.wechat and p.language == "zh" and rng.random() < 0.6:
            row["wechat"] = p.wechat
        else:
            device = (f"anon-{sid}" if rng.random() < 0.1
                      else p.devices[int(rng.random() * len(p.devices))])
            row["device"] = e.cookie or device
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
    base_ts = answered if live else e.t
    messages, truth_messages = sim.b["messages"].tuples, sim.b["truth:messages"].tuples
    for seq, (speaker, words, offset, sentiment) in enumerate(conv.turns):
        messages.append((iid, source, f"{sid}:{seq}", seq, speaker, base_ts + offset, words))
        truth_messages.append((iid, seq, speaker, sentiment))
    _truth_interaction(sim, iid, prob, e.attempt, channel, e.resolved, mood, s0, s1, csat, agent,
                       conv.pii, conv.violations)
    if asked:
        _survey(sim, p, iid, channel, e.ended, csat, e.attempt, e.resolved, responded,
                reply_after, nps, ces, comment)
    _maybe_case(sim, prob, iid, e.t, e.attempt, case_u)


def _survey(sim: ChunkSim, p: Person, iid: str, channel: str, ended: float, csat: int,
            attempt: int, resolved: bool, responded: bool, reply_after: float, nps: int,
            ces: int, comment: bool) -> None:
    rng = sim.rng
    sid = sim.next_id("SV")
    sent = ended + 60
    row: dict[str, object] = dict(source="survey", source_id=sid, interaction_ref=iid,
                                  sent_at=sent, language=p.language)
    if channel == "email" and p.email:
        row["email"] = pp.write_email(rng, p.email)
    else:
        row["phone"] = pp.write_mobile(rng, p.mobile)
    if responded:
        row["responded_at"] = sent + reply_after
        row["csat"] = csat
        row["nps"] = nps
        row["ces"] = ces
        if comment:
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


CASE_LINK = 0.95   # share of phone/chat/social follow-ups logged under the problem's open case
CASE_CHANCE = {"complaint": 0.8, "refund": 0.5, "billing": 0.15, "technical": 0.15,
               "cancellation": 0.2, "delivery": 0.1, "account_access": 0.05,
               "product_enquiry": 0.02}


def _maybe_case(sim: ChunkSim, prob: Problem, iid: str, t: float, attempt: int,
                u: float) -> None:
    """Open a helpdesk case on the first assisted contact of some problems (closed later)."""
    if prob.case is not None:
        return
    chance = CASE_CHANCE[prob.reason] + (0.2 if attempt >= 2 else 0.0)
    if u >= chance:
        return
    rng = sim.rng
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
    """Note how the problem ended; its helpdesk case (if any) is written by ``outcomes.settle``
    once the chunk's contacts — and so the case — are drawn."""
    sim.closures.append((prob, resolved, gave_up, end))


def write_case(sim: ChunkSim, prob: Problem, resolved: bool, gave_up: bool, end: float) -> None:
    """The helpdesk row of a problem's case: closed when solved, closed_no_response when the
    customer gave up, else still open."""
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
