"""A rescore's two ways to the same result: a lead whose activities are those its events
came from has only the changed rules recomputed and its score summed in SQL; any other
lead is rescored in full. Two workspaces hold the same random leads (seeded, so a
failure repeats); one takes the quick way after a rule change, the other is made to
take the full one, and what each stores must be the same, row for row."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role, Workspace
from inboxcrm.accounts.service import add_member, create_workspace
from inboxcrm.leads.models import Activity, ActivityKind, Company, Lead
from inboxcrm.scoring.awards import IdealCustomer
from inboxcrm.scoring.models import ScoreEvent, ScoreSums, TemperatureChange
from inboxcrm.scoring.rescore import rescore
from inboxcrm.scoring.rules import DEFAULT_RULES, Part, Rule, Trigger, check_rule
from inboxcrm.scoring.score import breakdown, worth
from inboxcrm.scoring.stored import awards_of
from inboxcrm.scoring.sums import micros, name, read
from inboxcrm.scoring.temperature import Thresholds
from inboxcrm.stages.service import entry_stage
from inboxcrm.tenancy import Scope
from tests.support.database import statements

NOW = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)
LEADS = 60
TITLES = ("CEO", "VP Sales", "Analyst", "Engineer", "")


def _with(key: str, **values: Any) -> tuple[Rule, ...]:
    return tuple(replace(r, **values) if r.key == key else r for r in DEFAULT_RULES)


CHANGES: dict[str, tuple[Rule, ...]] = {
    "reply points": _with("reply", points=8),
    "quick reply window": _with("quick_reply", within_hours=2),
    "meeting half-life": _with("meeting", half_life_days=7),
    "reply cap": _with("reply", cap=12, period_days=3),
    "bounce removed": tuple(r for r in DEFAULT_RULES if r.key != "bounce"),
    "rule added": (*DEFAULT_RULES, Rule("unsub2", "Said stop", Trigger.unsubscribe, -5)),
    "fit rule changed": _with("senior_title", points=25),
    "nothing": DEFAULT_RULES,
}


def populate(session: Session, name: str, seed: int, days: int = 90) -> tuple[Workspace, list[int]]:
    """A workspace of LEADS leads with random histories over `days`; the lead ids in
    order."""
    rng = random.Random(seed)
    ws = create_workspace(session, name, f"{name}.example")
    owner = add_member(session, ws, f"rep@{name}.example", Role.admin, "Rep")
    company = Company(workspace_id=ws.id, name="Initech", industry="Software", size="51-200")
    session.add(company)
    session.flush()
    stage = entry_stage(Scope(session, ws.id))
    ids = []
    for n in range(LEADS):
        bant = rng.random() < 0.3
        lead = Lead(workspace_id=ws.id, email=f"p{n}@c.example", name=f"P {n}",
                    owner_id=owner.id, stage_id=stage.id, company_id=company.id,
                    title=rng.choice(TITLES), budget="10k" if bant else None,
                    authority="yes" if bant else None, need="crm" if bant else None,
                    timeline="Q3" if bant else None)  # fmt: skip
        session.add(lead)
        session.flush()
        ids.append(lead.id)
        add_history(session, lead, rng, rng.randint(0, 14), NOW, days)
    session.commit()
    return ws, ids


def add_history(
    session: Session,
    lead: Lead,
    rng: random.Random,
    count: int,
    until: dt.datetime,
    days: int = 90,
) -> None:
    """`count` random activities in the `days` before `until`."""
    for _ in range(count):
        at = until - dt.timedelta(minutes=rng.randint(30, 60 * 24 * days))
        roll = rng.random()
        if roll < 0.6:
            kind, detail = ActivityKind.reply, {"latency_seconds": rng.randint(60, 200_000)}
        elif roll < 0.72:
            kind, detail = ActivityKind.meeting, {"status": "accepted"}
        elif roll < 0.8:
            kind, detail = ActivityKind.inquiry, {}
        elif roll < 0.9:
            kind, detail = ActivityKind.bounce, {"type": rng.choice(("hard", "soft"))}
        elif roll < 0.95:
            kind, detail = ActivityKind.unsubscribe, {"source": "reply"}
        else:
            kind, detail = ActivityKind.auto_reply, {"return_date": None}
        session.add(Activity(workspace_id=lead.workspace_id, lead_id=lead.id, kind=kind,
                             occurred_at=at, detail=detail))  # fmt: skip
    session.flush()


def stored(session: Session, ids: list[int]) -> dict[str, Any]:
    """What the leads hold, by their place in `ids` (the workspaces' ids differ)."""
    session.expire_all()
    place = {lead_id: n for n, lead_id in enumerate(ids)}
    activities = {
        a.id: (a.occurred_at, a.kind.value)
        for a in session.scalars(select(Activity).where(Activity.lead_id.in_(ids)))
    }
    events = sorted(  # by repr: points and half-lives may be None
        ((place[e.lead_id], e.rule, e.part.value, e.points, e.awarded_at, e.half_life_days,
          e.reason, None if e.activity_id is None else activities[e.activity_id])
         for e in session.scalars(select(ScoreEvent).where(ScoreEvent.lead_id.in_(ids)))),
        key=repr,
    )  # fmt: skip
    leads = sorted(
        (place[lead.id], lead.score, str(lead.temperature), lead.rescore_at,
         lead.last_engaged_at, lead.temperature_changed_at)
        for lead in session.scalars(select(Lead).where(Lead.id.in_(ids))).unique()
    )  # fmt: skip
    history = sorted(
        (place[c.lead_id], str(c.from_temperature), str(c.to_temperature), c.changed_at)
        for c in session.scalars(
            select(TemperatureChange).where(TemperatureChange.lead_id.in_(ids))
        )
    )
    return {"events": events, "leads": leads, "history": history}


def forget(session: Session, ids: list[int]) -> None:
    """Make the next rescore of these leads take the full way."""
    session.execute(update(Lead).where(Lead.id.in_(ids)).values(scored_with=None))
    session.commit()


def unkeep(session: Session, ids: list[int]) -> None:
    """Drop the sums kept on these leads (as after the migration that added them): their
    next rescore sums their stored events in SQL."""
    session.execute(delete(ScoreSums).where(ScoreSums.lead_id.in_(ids)))
    session.commit()


def sums_match_events(
    session: Session, ids: list[int], moment: dt.datetime, rules: tuple[Rule, ...] = DEFAULT_RULES
) -> None:
    """The sums kept on each lead, as of `moment` and by these rules, are its stored
    events' worths then, rule by rule (to the float error a quick sum is allowed)."""
    session.expire_all()
    leads = session.scalars(select(Lead).where(Lead.id.in_(ids))).unique().all()
    sums = dict(session.execute(select(ScoreSums.lead_id, ScoreSums.sums)).tuples().all())
    assert all(lead.id in sums for lead in leads if lead.scored_with)
    for lead in leads:
        kept = read(sums.get(lead.id))
        if kept is None:
            continue
        worths: dict[str, float] = {}
        for a in awards_of(session, lead):
            key = name(a.part, a.rule)
            worths[key] = worths.get(key, 0.0) + worth(a, moment)
        assert kept.moved(micros(moment), {r.key: r for r in rules})
        assert set(kept.entries) == set(worths), lead.id
        for key, entry in kept.entries.items():
            assert entry[1] == pytest.approx(worths[key], abs=1e-9 * (1 + entry[2])), key


def summed_in_sql(sent: list[tuple[str, Any]]) -> bool:
    return any("power(" in sql.lower() for sql, _ in sent)


def in_full(sent: list[tuple[str, Any]]) -> bool:
    """A full rescore reads every stored event of its leads."""
    every_event = "SELECT score_event.lead_id, score_event.id, score_event.rule"
    return any(sql.startswith(every_event) and "score_event.part =" not in sql for sql, _ in sent)


@pytest.mark.parametrize("kept", [True, False], ids=["sums kept", "sums in SQL"])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_rule_change_rescores_the_same_by_the_quick_way_as_in_full(
    session: Session, change: str, kept: bool
) -> None:
    quick, quick_ids = populate(session, "quick", seed=7)
    full, full_ids = populate(session, "full", seed=7)
    ideal = IdealCustomer(frozenset({"software"}), frozenset())
    thresholds = Thresholds()
    before = CHANGES["nothing"] if change != "nothing" else CHANGES["reply points"]
    for ws, ids in ((quick, quick_ids), (full, full_ids)):
        rescore(session, ws.id, ids, NOW, rules=before, ideal=ideal, thresholds=thresholds)
        session.commit()
    assert stored(session, quick_ids) == stored(session, full_ids)
    if not kept:
        unkeep(session, quick_ids)

    later = NOW + dt.timedelta(days=3)
    sent = statements(session, lambda: rescore(session, quick.id, quick_ids, later,
                                               rules=CHANGES[change], ideal=ideal,
                                               thresholds=thresholds))  # fmt: skip
    session.commit()
    assert not in_full(sent)
    assert summed_in_sql(sent) is (not kept or change == "meeting half-life")
    forget(session, full_ids)
    sent = statements(session, lambda: rescore(session, full.id, full_ids, later,
                                               rules=CHANGES[change], ideal=ideal,
                                               thresholds=thresholds))  # fmt: skip
    session.commit()
    assert in_full(sent)
    assert not summed_in_sql(sent)
    assert stored(session, quick_ids) == stored(session, full_ids)
    for ids in (quick_ids, full_ids):
        sums_match_events(session, ids, later + dt.timedelta(days=5), CHANGES[change])


def test_new_activities_rescore_in_full_and_then_the_quick_way_again(session: Session) -> None:
    quick, quick_ids = populate(session, "quick", seed=11)
    full, full_ids = populate(session, "full", seed=11)
    for ws, ids in ((quick, quick_ids), (full, full_ids)):
        rescore(session, ws.id, ids, NOW)
        session.commit()
    # New mail for a few leads, the same in both.
    for ids in (quick_ids, full_ids):
        rng = random.Random(5)
        for lead_id in ids[::7]:
            add_history(session, session.get_one(Lead, lead_id), rng, 2,
                        NOW + dt.timedelta(days=1))  # fmt: skip
        session.commit()
    later = NOW + dt.timedelta(days=1, hours=2)
    changed = _with("meeting", points=30)
    rescore(session, quick.id, quick_ids, later, rules=changed)
    session.commit()
    forget(session, full_ids)
    rescore(session, full.id, full_ids, later, rules=changed)
    session.commit()
    assert stored(session, quick_ids) == stored(session, full_ids)
    # Rescored again at the same moment, either way: nothing to write.
    sent = statements(session, lambda: rescore(session, quick.id, quick_ids, later,
                                               rules=changed))  # fmt: skip
    assert not [sql for sql, _ in sent if sql.lstrip().upper().startswith(("INSERT", "DELETE",
                                                                          "UPDATE"))]  # fmt: skip


@pytest.mark.parametrize("backfill", [False, True], ids=["new mail", "older mail too"])
def test_activities_added_since_rescore_the_same_by_the_quick_way_as_in_full(
    session: Session, backfill: bool
) -> None:
    """A sync batch's replies, later than all scored: only they are awarded, capped by
    what their rules gave in the period before. Mail older than what was scored (a
    backfill) takes the full way."""
    quick, quick_ids = populate(session, "quick", seed=13)
    full, full_ids = populate(session, "full", seed=13)
    for ws, ids in ((quick, quick_ids), (full, full_ids)):
        rescore(session, ws.id, ids, NOW)
        session.commit()
    for ids in (quick_ids, full_ids):
        rng = random.Random(17)
        for lead_id in ids[::2]:
            lead = session.get_one(Lead, lead_id)
            add_history(session, lead, rng, rng.randint(1, 4), NOW + dt.timedelta(days=2), days=2)
            if backfill and lead_id % 3 == 0:
                add_history(session, lead, rng, 1, NOW)
        session.commit()
    later = NOW + dt.timedelta(days=2, hours=1)
    sent = statements(session, lambda: rescore(session, quick.id, quick_ids, later))
    session.commit()
    # New awards are added to the kept sums; a capped rule redone from older mail on
    # has its leads' events summed again.
    assert summed_in_sql(sent) is backfill
    forget(session, full_ids)
    rescore(session, full.id, full_ids, later)
    session.commit()
    assert stored(session, quick_ids) == stored(session, full_ids)
    sums_match_events(session, quick_ids, later + dt.timedelta(days=1))


def test_an_activity_left_unscored_below_another_leads_last_takes_the_full_way(
    session: Session,
) -> None:
    """New activities are read above the highest id any of the leads was scored to (a
    sync batch's are above all): a lead with one below that, never scored (a merge's),
    is told by its count and rescored in full, the same as if it had been read."""
    quick, quick_ids = populate(session, "quick", seed=23)
    full, full_ids = populate(session, "full", seed=23)
    for ws, ids in ((quick, quick_ids), (full, full_ids)):
        rescore(session, ws.id, ids, NOW)
        session.commit()
        rng = random.Random(29)
        unscored, other = (session.get_one(Lead, i) for i in ids[1:3])
        add_history(session, unscored, rng, 1, NOW + dt.timedelta(hours=1), days=1)
        add_history(session, other, rng, 1, NOW + dt.timedelta(hours=2), days=1)
        rescore(session, ws.id, [other.id], NOW + dt.timedelta(hours=2))  # above the first
        add_history(session, other, rng, 2, NOW + dt.timedelta(hours=3), days=1)
        session.commit()
    later = NOW + dt.timedelta(hours=4)
    sent = statements(session, lambda: rescore(session, quick.id, quick_ids, later))
    session.commit()
    assert in_full(sent)
    forget(session, full_ids)
    rescore(session, full.id, full_ids, later)
    session.commit()
    assert stored(session, quick_ids) == stored(session, full_ids)


@pytest.mark.parametrize("kept", [True, False], ids=["sums kept", "sums in SQL"])
def test_a_score_too_close_to_call_is_added_up_award_by_award(session: Session, kept: bool) -> None:
    """A point that halves daily is worth exactly half a point tomorrow: the quick sums
    cannot round that for sure, so the stored awards are read and added up one by one,
    and the next look is the one a full rescore found."""
    ws, ids = populate(session, "close", seed=3)
    lead = session.get_one(Lead, ids[0])
    session.add(Activity(workspace_id=ws.id, lead_id=lead.id, kind=ActivityKind.meeting,
                         occurred_at=NOW, detail={}))  # fmt: skip
    session.commit()
    rules = (Rule("meeting", "Met", Trigger.meeting, 1, half_life_days=1),
             Rule("reply", "Replied", Trigger.reply, 21, half_life_days=300))  # fmt: skip
    rescore(session, ws.id, ids, NOW, rules=rules)
    session.commit()
    first = stored(session, ids)
    if not kept:
        unkeep(session, ids)
    sent = statements(session, lambda: rescore(session, ws.id, ids, NOW, rules=rules))
    assert summed_in_sql(sent) is not kept
    assert not in_full(sent)
    writes = [sql for sql, _ in sent if sql.lstrip().upper().startswith(("INSERT", "DELETE",
                                                                        "UPDATE"))]  # fmt: skip
    # Nothing, but the sums summed in SQL: kept from now on.
    assert len(writes) == (0 if kept else 1)
    for w in writes:  # the sums alone
        assert w.startswith("INSERT INTO score_sums ")
    session.commit()
    assert stored(session, ids) == first


@pytest.mark.parametrize("kept", [True, False], ids=["sums kept", "sums in SQL"])
def test_a_quick_sum_that_times_to_the_millisecond_rounds_as_award_by_award(
    session: Session, kept: bool
) -> None:
    """SQLite reads a stored time to the millisecond: 5 points that halve daily, given
    0.45 ms past a second and looked at a day and 0.4 ms later, are worth a hair over 2.5
    (3 points) but, read that way, 8e-9 under it (2). Such a sum is trusted less, so it
    is added up award by award and the score is the breakdown's."""
    ws = create_workspace(session, "milli", "milli.example")
    owner = add_member(session, ws, "rep@milli.example", Role.admin, "Rep")
    given = dt.datetime(2026, 6, 1, 9, 30, 0, 450, tzinfo=dt.UTC)
    later = dt.datetime(2026, 6, 2, 9, 30, 0, 400, tzinfo=dt.UTC)
    lead = Lead(workspace_id=ws.id, email="milli@c.example", owner_id=owner.id,
                stage_id=entry_stage(Scope(session, ws.id)).id)  # fmt: skip
    session.add(lead)
    session.flush()
    session.add(Activity(workspace_id=ws.id, lead_id=lead.id, kind=ActivityKind.meeting,
                         occurred_at=given, detail={}))  # fmt: skip
    session.commit()
    rules = (Rule("meeting", "Met", Trigger.meeting, 5, half_life_days=1),)
    rescore(session, ws.id, [lead.id], given, rules=rules)
    session.commit()
    if not kept:
        unkeep(session, [lead.id])
    sent = statements(session, lambda: rescore(session, ws.id, [lead.id], later, rules=rules))
    session.commit()
    assert summed_in_sql(sent) is not kept
    assert not in_full(sent)
    session.expire_all()
    lead = session.get_one(Lead, lead.id)
    assert breakdown(awards_of(session, lead), later).score == 3
    assert lead.score == 3


def test_a_run_of_ids_rescores_as_ids_with_gaps_and_only_the_workspaces_own(
    session: Session,
) -> None:
    """A workspace rescore asks for runs of ids, read as ranges; ids with gaps are read as
    lists. A run that takes in another workspace's leads leaves them alone."""
    ranged, ranged_ids = populate(session, "ranged", seed=7)
    _, other_ids = populate(session, "other", seed=7)
    listed, listed_ids = populate(session, "listed", seed=7)
    assert ranged_ids[-1] + 1 == other_ids[0]  # one run of ids over both workspaces
    rescore(session, ranged.id, [*ranged_ids, *other_ids], NOW)
    for half in (listed_ids[::2], listed_ids[1::2]):
        rescore(session, listed.id, half, NOW)
    session.commit()
    assert stored(session, ranged_ids) == stored(session, listed_ids)
    assert stored(session, ranged_ids)["events"]
    untouched = stored(session, other_ids)
    assert (untouched["events"], untouched["history"]) == ([], [])
    assert {score for _, score, *_ in untouched["leads"]} == {0}


def test_a_reply_older_than_those_scored_redoes_only_the_reply_rules(session: Session) -> None:
    """Mail older than what was scored (another mailbox's copy synced late): the capped
    rules of its trigger are redone from its time on, the lead's other new happenings
    awarded as in a sync batch; the same rows as a full rescore."""
    quick, quick_ids = populate(session, "quick", seed=21)
    full, full_ids = populate(session, "full", seed=21)
    for ws, ids in ((quick, quick_ids), (full, full_ids)):
        rescore(session, ws.id, ids, NOW)
        session.commit()
    for ids in (quick_ids, full_ids):
        rng = random.Random(5)
        for lead_id in ids:
            ws_id = session.get_one(Lead, lead_id).workspace_id
            early = NOW - dt.timedelta(days=rng.randint(1, 60))
            # Three replies in two days, so the caps bite; and a meeting after all scored.
            replies = [(ActivityKind.reply, early + dt.timedelta(hours=rng.randint(0, 40)),
                        {"latency_seconds": rng.randint(60, 90_000)})
                       for _ in range(3)]  # fmt: skip
            meeting = (ActivityKind.meeting, NOW + dt.timedelta(hours=rng.randint(1, 30)),
                       {"status": "accepted"})  # fmt: skip
            for kind, at, detail in [*replies, meeting]:
                session.add(Activity(workspace_id=ws_id, lead_id=lead_id, kind=kind,
                                     occurred_at=at, detail=detail))  # fmt: skip
        session.commit()
    later = NOW + dt.timedelta(days=2)
    sent = statements(session, lambda: rescore(session, quick.id, quick_ids, later))
    session.commit()
    # A full rescore reads every stored event of its leads (their fit is unchanged here).
    every_event = "SELECT score_event.lead_id, score_event.id, score_event.rule"
    assert not any(sql.startswith(every_event) for sql, _ in sent)
    assert any("power(" in sql.lower() for sql, _ in sent)
    forget(session, full_ids)
    rescore(session, full.id, full_ids, later)
    session.commit()
    assert stored(session, quick_ids) == stored(session, full_ids)


def test_leads_on_every_quick_way_at_once_settle_together_as_in_full(session: Session) -> None:
    """A sync batch's leads: some unchanged (an out-of-office earns nothing), some with
    new replies, some with one older than those scored. Each way gathers its events, and
    all the leads' scores are summed in one query after one INSERT: the same rows as a
    full rescore."""
    quick, quick_ids = populate(session, "quick", seed=31)
    full, full_ids = populate(session, "full", seed=31)
    for ws, ids in ((quick, quick_ids), (full, full_ids)):
        rescore(session, ws.id, ids, NOW)
        session.commit()
    for ids in (quick_ids, full_ids):
        rng = random.Random(9)
        for n, lead_id in enumerate(ids):
            ws_id = session.get_one(Lead, lead_id).workspace_id
            if n % 3 == 2:
                continue  # unchanged
            new = n % 3 == 0  # else older than what was scored
            at = (
                NOW + dt.timedelta(hours=rng.randint(1, 20))
                if new
                else NOW - dt.timedelta(days=rng.randint(1, 20))
            )
            waited = {"latency_seconds": rng.randint(60, 90_000)}
            session.add(Activity(workspace_id=ws_id, lead_id=lead_id, kind=ActivityKind.reply,
                                 occurred_at=at, detail=waited))  # fmt: skip
        session.commit()
    later = NOW + dt.timedelta(days=1)
    sent = statements(session, lambda: rescore(session, quick.id, quick_ids, later))
    session.commit()
    assert len([sql for sql, _ in sent if "power(" in sql.lower()]) == 1
    inserts = [sql for sql, _ in sent if sql.lstrip().upper().startswith("INSERT INTO SCORE_EVENT")]
    assert len(inserts) == 1
    forget(session, full_ids)
    rescore(session, full.id, full_ids, later)
    session.commit()
    assert stored(session, quick_ids) == stored(session, full_ids)


def tweaked(rng: random.Random) -> tuple[Rule, ...]:
    """The default rules, some engagement rules with other points, half-lives and caps (what
    an admin changes most: the awards' happenings stay), the odd one renamed, the
    decision-maker rule at other points now and then."""
    rules = []
    for r in DEFAULT_RULES:
        if r.part is Part.engagement and rng.random() < 0.7:
            sign = 1 if r.points > 0 else -1
            points = sign * rng.choice((1, 3, 8, 10, 25))
            cap, period = None, None
            if rng.random() < 0.6:
                cap, period = points * rng.randint(1, 4), rng.choice((1, 3, 7, 30))
            r = replace(r, points=points, half_life_days=rng.choice((None, 2, 30, 90)),
                        cap=cap, period_days=period)  # fmt: skip
            if rng.random() < 0.1:
                r = replace(r, name=f"{r.name} (renamed)")
        elif r.key == "senior_title" and rng.random() < 0.3:
            r = replace(r, points=rng.choice((5, 20)))
        rules.append(check_rule(r))
    return tuple(rules)


@pytest.mark.parametrize("seed", range(8))
def test_points_half_lives_and_caps_changed_rescore_in_sql_as_in_full(
    session: Session, seed: int
) -> None:
    """Random rules changed in points, half-life or cap: leads whose caps hold nothing
    back, before or now, keep those rules' events as they are (each is the rule's full
    points), the others have them awarded again; with new mail for some leads and one
    lead's activities moved to another (a merge) meanwhile. Histories are packed into
    three weeks, so caps bind for many."""
    rng = random.Random(seed)
    before, after = tweaked(rng), tweaked(rng)
    quick, quick_ids = populate(session, "quick", seed=seed, days=21)
    full, full_ids = populate(session, "full", seed=seed, days=21)
    ideal = IdealCustomer(frozenset({"software"}), frozenset())
    for ws, ids in ((quick, quick_ids), (full, full_ids)):
        rescore(session, ws.id, ids, NOW, rules=before, ideal=ideal)
        session.commit()
    for ids in (quick_ids, full_ids):
        mail = random.Random(seed + 100)
        for lead_id in ids[::9]:
            add_history(session, session.get_one(Lead, lead_id), mail, 2,
                        NOW + dt.timedelta(days=1), days=1)  # fmt: skip
        session.execute(update(Activity).where(Activity.lead_id == ids[1])
                        .values(lead_id=ids[2]))  # fmt: skip
        session.commit()
    later = NOW + dt.timedelta(days=2)
    rescore(session, quick.id, quick_ids, later, rules=after, ideal=ideal)
    session.commit()
    forget(session, full_ids)
    rescore(session, full.id, full_ids, later, rules=after, ideal=ideal)
    session.commit()
    assert stored(session, quick_ids) == stored(session, full_ids)
    for ids in (quick_ids, full_ids):
        sums_match_events(session, ids, later + dt.timedelta(days=3), after)


def test_a_rule_whose_cap_binds_for_some_leads_keeps_the_others_events_as_they_are(
    session: Session,
) -> None:
    """The reply rule from 8 to 10 points (at most 30 a week): a lead with four replies in
    a week had its fourth cut to 6 points, and now gets none for it; its events are
    awarded again. A lead with replies a week apart keeps its events as they are: each
    is the rule's full points, 10 now."""
    ws = create_workspace(session, "caps", "caps.example")
    stage = entry_stage(Scope(session, ws.id))
    leads = [Lead(workspace_id=ws.id, email=f"p{n}@c.example", name=f"P {n}", stage_id=stage.id)
             for n in range(2)]  # fmt: skip
    session.add_all(leads)
    session.flush()
    packed, spread = leads[0].id, leads[1].id
    for lead_id, gap in ((packed, dt.timedelta(days=1)), (spread, dt.timedelta(days=8))):
        for n in range(4):
            session.add(Activity(workspace_id=ws.id, lead_id=lead_id, kind=ActivityKind.reply,
                                 occurred_at=NOW - dt.timedelta(days=40) + n * gap,
                                 detail={"latency_seconds": 90_000}))  # fmt: skip
    session.commit()
    rescore(session, ws.id, [packed, spread], NOW, rules=_with("reply", points=8))
    session.commit()
    kept = session.scalars(select(ScoreEvent.id).where(ScoreEvent.lead_id == spread)).all()
    sent = statements(session, lambda: rescore(session, ws.id, [packed, spread], NOW))
    session.commit()
    assert not [sql for sql, _ in sent if sql.startswith("UPDATE score_event")]
    session.expire_all()
    events = {
        lead_id: sorted((a.points, a.reason) for a in awards_of(session, lead)
                        if a.rule == "reply")
        for lead_id, lead in ((i, session.get_one(Lead, i)) for i in (packed, spread))
    }  # fmt: skip
    every_30 = ", halves every 30 days"
    assert events[spread] == [(10, f"Replied within 25 h +10{every_30}")] * 4
    assert events[packed] == [(10, f"Replied within 25 h +10{every_30}")] * 3
    assert session.scalars(select(ScoreEvent.id).where(ScoreEvent.lead_id == spread)).all() == kept
