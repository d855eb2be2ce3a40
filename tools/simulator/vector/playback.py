"""Many playback sessions at once: the simulator's `playback` and `ads` model as arrays.

For each view the same steps as `tools.simulator.playback.play_view`: `play_requested`,
fatal failure before the first frame (by the viewer's network profile), a pre-roll ad break,
startup against the viewer's patience, then the played part. The played part is cut into
*interruptions* placed at offsets of played time: stalls, pauses and seeks (Poisson at the
profile's rates; a stall may end the view, as may a pause nobody comes back from) and
mid-roll ad breaks (every six minutes of VOD, about every 15 minutes of live). Fatal errors
and dropped sessions (no `playback_ended`) are Poisson points in played time. Because the
interruptions never overlap, wall time, played, stalled and seek time at any instant follow
from prefix sums, so the 10-second heartbeat grid, the state-change heartbeats and their
delta fields (which add up to the view's totals, as EVENTS.md requires) are computed for all
views together. Renditions follow the ABR ladder: a step below the link's cap at start, one
step up after about 40 s, a step down after some stalls.

Simplifications against the scalar simulator: seeks do not move the playhead, the
heartbeat grid does not shift past a mid-roll (heartbeats that fall inside an ad break are
left out), and a stall does not change later stall rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tools.simulator.ads import (
    ABANDON_PROB,
    AD_DURATIONS_MS,
    CLICK_PROB,
    SKIP_PROB,
    SKIPPABLE_AFTER_MS,
    ad_format,
)
from tools.simulator.clock import MINUTE_MS, SECOND_MS
from tools.simulator.network import LADDER
from tools.simulator.playback import (
    FATAL_ERRORS,
    HEARTBEAT_MS,
    LIVE_MIDROLL_MEAN_MS,
    MIDROLL_EVERY_MS,
    RECOVERABLE_ERRORS,
)
from tools.simulator.vector.latency import latency_ms, viewer_base_ms
from tools.simulator.vector.pieces import Pieces, lognormal_ms, randint, segment_cumsum
from tools.simulator.vector.population import LIVE, STORY, VOD, Viewers

STALL, PAUSE, SEEK, AD, PLAYING = range(5)
_STATE_OF = np.array(["stalled", "paused", "seeking", "", "playing"], dtype=object)
_KEY = np.int64(1) << np.int64(40)
"""Packs (view, milliseconds since its start) into one sortable int64."""
_KBPS = np.array([kbps for kbps, _ in LADDER])
_HEIGHT = np.array([height for _, height in LADDER])
_FATAL_CODES = np.array([code for code, _ in FATAL_ERRORS], dtype=object)
_FATAL_MESSAGES = np.array([message for _, message in FATAL_ERRORS], dtype=object)
_RECOVERABLE_CODES = np.array([code for code, _ in RECOVERABLE_ERRORS], dtype=object)
_RECOVERABLE_MESSAGES = np.array([message for _, message in RECOVERABLE_ERRORS], dtype=object)


@dataclass
class Views:
    """What each view is about and what the viewer means to do (`playback.Intent`)."""

    t0: np.ndarray
    viewer: np.ndarray
    title: np.ndarray
    content_type: np.ndarray
    duration_ms: np.ndarray
    watch_ms: np.ndarray
    exit_reason: np.ndarray
    autoplay: np.ndarray
    preroll: np.ndarray
    midrolls: np.ndarray
    interactive: np.ndarray
    live_start_ms: np.ndarray
    live_end_ms: np.ndarray


@dataclass
class Outcome:
    """Per view, what `playback.ViewResult` says."""

    started: np.ndarray
    ended: np.ndarray
    completed: np.ndarray
    play_start_ms: np.ndarray
    end_ms: np.ndarray
    played_ms: np.ndarray


def play_views(
    rng: np.random.Generator, pieces: Pieces, views: Views, audience: Viewers, session0: int
) -> Outcome:
    """Add the events of `views` (sessions `session0`, `session0 + 1`, ...) to `pieces`."""
    n = len(views.t0)
    session = session0 + np.arange(n)
    viewer, title, t0 = views.viewer, views.title, views.t0
    profile = {name: values[viewer] for name, values in audience.profile.items()}
    pieces.add("play_requested", t0, viewer, title, session, autoplay=views.autoplay)

    fails = rng.random(n) < profile["fatal_failure_prob"]
    failed_at = t0 + lognormal_ms(rng, 1_500, 0.6, n)
    which = rng.integers(0, len(_FATAL_CODES), n)
    f = np.flatnonzero(fails)
    pieces.add(
        "playback_error",
        failed_at[f],
        viewer[f],
        title[f],
        session[f],
        order=1,
        code=_FATAL_CODES[which[f]],
        fatal=True,
        message=_FATAL_MESSAGES[which[f]],
    )
    fail_ended = fails & (rng.random(n) < 0.85)
    fail_end = failed_at + randint(rng, 20, 400, n)
    e = np.flatnonzero(fail_ended)
    pieces.add(
        "playback_ended",
        fail_end[e],
        viewer[e],
        title[e],
        session[e],
        order=2,
        reason="error",
    )

    t = t0.copy()
    pre = np.flatnonzero(~fails & views.preroll)
    pre_plan = plan_breaks(rng, len(pre), "pre")
    pre_start = t0[pre] + randint(rng, 50, 400, len(pre))
    emit_breaks(
        pieces, pre_plan, np.arange(len(pre)), pre_start, viewer[pre], title[pre], session[pre]
    )
    t[pre] = pre_start + pre_plan.length
    pre_abandoned = pre_plan.abandoned
    abandoned = np.zeros(n, dtype=bool)
    abandoned[pre] = pre_abandoned
    a = np.flatnonzero(abandoned)
    pieces.add("playback_ended", t[a], viewer[a], title[a], session[a], order=2, reason="user_exit")

    quick = views.content_type == STORY
    median = profile["startup_median_ms"] * np.where(quick, 0.5, 1.0)
    startup = lognormal_ms(rng, median, profile["startup_sigma"], n)
    patience = lognormal_ms(rng, np.where(views.autoplay, 4_000, 8_000), 0.6, n)
    alive = ~fails & ~abandoned
    gave_up = alive & (startup > patience)
    gave_up_ended = gave_up & (rng.random(n) < 0.6)
    g = np.flatnonzero(gave_up_ended)
    pieces.add(
        "playback_ended",
        t[g] + patience[g],
        viewer[g],
        title[g],
        session[g],
        order=2,
        reason="user_exit",
    )
    started = alive & ~gave_up
    s = np.flatnonzero(started)
    t_start = t + startup
    pieces.add(
        "playback_started",
        t_start[s],
        viewer[s],
        title[s],
        session[s],
        order=1,
        startup_ms=startup[s],
    )

    end_ms = np.where(fails, np.where(fail_ended, fail_end, failed_at), t)
    end_ms = np.where(gave_up, t + patience, end_ms)
    ended = fail_ended | abandoned | gave_up_ended
    completed = np.zeros(n, dtype=bool)
    played = np.zeros(n, dtype=np.int64)
    if len(s):
        played_part = _play(rng, pieces, views, s, t_start[s], session[s], profile, audience)
        end_ms[s] = played_part.end_ms
        ended[s] = played_part.ended
        completed[s] = played_part.completed
        played[s] = played_part.played_ms
    return Outcome(started, ended, completed, np.where(started, t_start, t0), end_ms, played)


@dataclass
class AdBreaks:
    """Ad breaks planned from their start at time 0 (`ads.play_ad_break` for many)."""

    position: str
    break_id: np.ndarray
    plays: np.ndarray
    """(break, slot): the ad in this slot of the pod is played (the pod holds it, and no
    earlier ad in the pod made the viewer leave)."""
    creative: np.ndarray
    duration: np.ndarray
    watched: np.ndarray
    skip: np.ndarray
    click_at: np.ndarray
    clicked: np.ndarray
    ad_start: np.ndarray
    length: np.ndarray
    """When content resumes, from the break's start."""
    abandoned: np.ndarray


def plan_breaks(rng: np.random.Generator, b: int, position: str) -> AdBreaks:
    break_id = np.array([f"ab_{x:012x}" for x in rng.integers(0, 1 << 48, b)], dtype=object)
    counts = rng.choice((1, 1, 2) if position == "pre" else (1, 2, 2, 3), b)
    slot = np.arange(3)
    present = slot[None, :] < counts[:, None]
    base = rng.integers(0, 299, b)
    step = rng.integers(1, 99, b)
    creative = (base[:, None] + slot[None, :] * step[:, None]) % 299 + 1  # distinct in a pod
    duration = rng.choice(np.array(AD_DURATIONS_MS), (b, 3))
    roll = rng.random((b, 3))
    abandon = roll < ABANDON_PROB
    skip = ~abandon & (duration > SKIPPABLE_AFTER_MS + 1_000) & (roll < ABANDON_PROB + SKIP_PROB)
    watched = np.where(
        abandon,
        randint(rng, 300, duration - 100),
        np.where(skip, randint(rng, SKIPPABLE_AFTER_MS, duration - 500), duration),
    )
    gap = randint(rng, 50, 300, (b, 3))
    abandon &= present
    before: np.ndarray = np.cumsum(abandon, axis=1) - abandon
    plays = present & (before == 0)
    first = randint(rng, 100, 600, b)
    step_ms = np.where(plays, watched + np.where(abandon, 0, gap), 0)
    ad_start = first[:, None] + np.cumsum(step_ms, axis=1) - step_ms
    clicked = rng.random((b, 3)) < CLICK_PROB
    click_at = ad_start + randint(rng, 200, np.maximum(watched, 200))
    return AdBreaks(
        position=position,
        break_id=break_id,
        plays=plays,
        creative=creative,
        duration=duration,
        watched=watched,
        skip=skip & plays,
        click_at=click_at,
        clicked=clicked & plays,
        ad_start=ad_start,
        length=first + step_ms.sum(axis=1),
        abandoned=np.asarray(abandon.any(axis=1)),
    )


def emit_breaks(
    pieces: Pieces,
    plan: AdBreaks,
    which: np.ndarray,
    start: np.ndarray,
    viewer: np.ndarray,
    title: np.ndarray,
    session: np.ndarray,
) -> None:
    """The events of breaks `which` of `plan`, starting at `start` (one per break)."""
    position = plan.position
    common = (viewer, title, session)
    pieces.add(
        "ad_break_started",
        start,
        *common,
        order=3,
        ad_break_id=plan.break_id[which],
        ad_position=position,
    )
    rows, cols = np.nonzero(plan.plays[which])
    br = which[rows]
    duration = plan.duration[br, cols]
    ad_fields = {
        "ad_id": np.array([f"ad_{c:04d}" for c in plan.creative[br, cols]], dtype=object),
        "ad_break_id": plan.break_id[br],
        "ad_duration_ms": duration,
        "ad_format": np.array([ad_format(c) for c in plan.creative[br, cols]], dtype=object),
    }
    at = start[rows] + plan.ad_start[br, cols]
    who = (viewer[rows], title[rows], session[rows])

    def add(type_: str, mask: np.ndarray, when: np.ndarray, order: int, **extra: Any) -> None:
        m = np.flatnonzero(mask)
        fields: dict[str, Any] = {name: value[m] for name, value in ad_fields.items()}
        pieces.add(
            type_,
            when[m],
            who[0][m],
            who[1][m],
            who[2][m],
            order=order,
            ad_position=position,
            **fields,
            **extra,
        )

    add("ad_impression", np.ones(len(rows), dtype=bool), at, 4)
    seen = plan.watched[br, cols]
    for quartile in (25, 50, 75, 100):
        reach = duration * quartile // 100
        add("ad_quartile", reach <= seen, at + reach, 5, quartile=quartile)
    add("ad_skipped", plan.skip[br, cols], at + seen, 6)
    add("ad_clicked", plan.clicked[br, cols], start[rows] + plan.click_at[br, cols], 6)
    kept = np.flatnonzero(~plan.abandoned[which])
    pieces.add(
        "ad_break_ended",
        start[kept] + plan.length[which][kept],
        viewer[kept],
        title[kept],
        session[kept],
        order=7,
        ad_break_id=plan.break_id[which][kept],
        ad_position=position,
    )


@dataclass
class _Played:
    end_ms: np.ndarray
    ended: np.ndarray
    completed: np.ndarray
    played_ms: np.ndarray


def _play(
    rng: np.random.Generator,
    pieces: Pieces,
    views: Views,
    s: np.ndarray,
    t_start: np.ndarray,
    session: np.ndarray,
    all_profile: dict[str, np.ndarray],
    audience: Viewers,
) -> _Played:
    """The started part of views `s` (`playback._Playback`), in played-time offsets."""
    m = len(s)
    idx = np.arange(m)
    viewer, title = views.viewer[s], views.title[s]
    profile = {name: values[s] for name, values in all_profile.items()}
    live = views.content_type[s] == LIVE
    duration = views.duration_ms[s]
    live_end = views.live_end_ms[s]
    budget = np.where(
        live,
        np.maximum(0, np.minimum(t_start + views.watch_ms[s], live_end) - t_start),
        np.minimum(duration, views.watch_ms[s]),
    )
    interactive = views.interactive[s] & ~live
    # Interruptions: (view, offset in played time, kind, wall duration, ends the view)
    stall_rate = profile["stalls_per_min"] / MINUTE_MS * np.where(live, 1.6, 1.0)
    parts_view, parts_offset, parts_kind = [], [], []
    for kind, rate in (
        (STALL, stall_rate),
        (PAUSE, np.where(interactive, 1 / (8 * MINUTE_MS), 0.0)),
        (SEEK, np.where(interactive, 1 / (10 * MINUTE_MS), 0.0)),
        (AD, np.where(live & views.midrolls[s], 1 / LIVE_MIDROLL_MEAN_MS, 0.0)),
    ):
        count = rng.poisson(rate * budget)
        at = np.repeat(idx, count)
        parts_view.append(at)
        parts_offset.append((rng.random(len(at)) * budget[at]).astype(np.int64))
        parts_kind.append(np.full(len(at), kind))
    vod_mid = (views.content_type[s] == VOD) & views.midrolls[s] & (duration >= 8 * MINUTE_MS)
    cues = np.where(vod_mid, (np.minimum(budget, duration - MINUTE_MS) - 1) // MIDROLL_EVERY_MS, 0)
    at = np.repeat(idx, np.maximum(cues, 0))
    rank = np.arange(len(at)) - np.repeat(np.cumsum(cues) - cues, np.maximum(cues, 0))
    parts_view.append(at)
    parts_offset.append((rank + 1) * MIDROLL_EVERY_MS)
    parts_kind.append(np.full(len(at), AD))
    iv = np.concatenate(parts_view).astype(np.int64)
    iu = np.concatenate(parts_offset).astype(np.int64)
    ik = np.concatenate(parts_kind).astype(np.int64)
    order = np.lexsort((iu, iv))
    iv, iu, ik = iv[order], iu[order], ik[order]
    k = len(iv)
    stall_len = lognormal_ms(rng, profile["stall_median_ms"][iv], 0.8, k)
    gives_up = (ik == STALL) & (rng.random(k) < 0.1)
    stall_len = np.where(
        gives_up, np.minimum(stall_len, lognormal_ms(rng, 5_000, 0.5, k)), stall_len
    )
    pause_len = np.minimum(10 * MINUTE_MS, lognormal_ms(rng, 20_000, 1.0, k))
    seek_len = lognormal_ms(rng, profile["seek_median_ms"][iv], 0.5, k)
    idur = np.choose(ik, [stall_len, pause_len, seek_len, np.zeros(k, dtype=np.int64)])
    terminal = gives_up | ((ik == PAUSE) & (rng.random(k) < 0.25))
    # Ad breaks are planned first: their length places everything after them.
    ads = np.flatnonzero(ik == AD)
    mid_plan = plan_breaks(rng, len(ads), "mid")
    idur[ads] = mid_plan.length
    terminal[ads] = mid_plan.abandoned
    break_of = np.full(k, -1)
    break_of[ads] = np.arange(len(ads))

    # Where the played part stops: its budget, or the first terminal point.
    inf = np.iinfo(np.int64).max
    first_terminal = np.full(m, inf)
    np.minimum.at(first_terminal, iv[terminal], iu[terminal])
    fatal_at = rng.exponential(1.0, m) / np.maximum(profile["fatal_per_min"] / MINUTE_MS, 1e-30)
    drop_at = rng.exponential(MINUTE_MS / 0.003, m)
    fatal_at = np.minimum(fatal_at, 1e15).astype(np.int64)
    drop_at = drop_at.astype(np.int64)
    cut = np.minimum.reduce([budget, first_terminal, fatal_at, drop_at])
    by_interruption = (first_terminal == cut) & (cut < budget)
    by_fatal = ~by_interruption & (fatal_at == cut) & (cut < budget)
    dropped = ~by_interruption & ~by_fatal & (drop_at == cut) & (cut < budget)
    keep = (iu < cut[iv]) | (terminal & (iu == cut[iv]) & by_interruption[iv])
    iv, iu, ik, idur, terminal = iv[keep], iu[keep], ik[keep], idur[keep], terminal[keep]
    break_of = break_of[keep]
    k = len(iv)
    new_view = np.ones(k, dtype=bool)
    new_view[1:] = iv[1:] != iv[:-1]
    dur_incl = segment_cumsum(idur, new_view)
    wall_start = t_start[iv] + iu + dur_incl - idur
    wall_end = wall_start + idur
    kept_ads = np.flatnonzero(ik == AD)
    emit_breaks(
        pieces, mid_plan, break_of[kept_ads], wall_start[kept_ads], viewer[iv[kept_ads]],
        title[iv[kept_ads]], session[iv[kept_ads]],
    )  # fmt: skip

    def to_wall(view: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Wall time of a point at `offset` of played time in `view`."""
        pos = np.searchsorted(iv * _KEY + iu, view * _KEY + offset, side="left") - 1
        same = (pos >= 0) & (_gather(iv, pos, -1) == view)
        before = np.where(same, _gather(dur_incl, pos, 0), 0)
        return t_start[view] + offset + before

    end = to_wall(idx, cut)
    end = np.where(by_interruption, _last_terminal_end(iv, terminal, wall_end, m), end)
    fatal_wall = to_wall(idx, np.minimum(fatal_at, cut))
    finish = np.where(by_fatal, fatal_wall + randint(rng, 20, 400, m), end)
    normal = ~by_interruption & ~by_fatal & ~dropped
    live_over = live & normal & (end >= live_end)
    completed = normal & np.where(live, live_over, budget >= duration)
    end = np.where(live_over, np.minimum(end, live_end), end)
    finish = np.where(live_over, end, finish)
    ended = ~dropped

    # Events at interruptions: a heartbeat in the new state, then back to playing.
    rendition_cap = _rendition_cap(rng, profile, m)
    r0 = np.maximum(0, rendition_cap - 1)
    up_offset = rng.exponential(40 * SECOND_MS, m).astype(np.int64)
    upswitch = (r0 < rendition_cap) & (up_offset < cut)
    up_wall = np.where(upswitch, to_wall(idx, np.minimum(up_offset, cut)), inf)
    downs = (ik == STALL) & ~terminal & (rng.random(k) < 0.6)
    state_starts = np.flatnonzero((ik != AD) & (wall_start < end[iv]))
    resumes = np.flatnonzero((ik != AD) & ~terminal & (wall_end < end[iv]))
    ticks_per_view = np.maximum(0, (end - t_start - 1) // HEARTBEAT_MS)
    tv = np.repeat(idx, ticks_per_view)
    tk = np.arange(len(tv)) - np.repeat(np.cumsum(ticks_per_view) - ticks_per_view, ticks_per_view)
    tt = t_start[tv] + (tk + 1) * HEARTBEAT_MS
    # Which interruption a tick falls in, if any (its state; no heartbeat during ads).
    pos = (
        np.searchsorted(
            iv * _KEY + (wall_start - t_start[iv]), tv * _KEY + (tt - t_start[tv]), side="right"
        )
        - 1
    )
    inside = (pos >= 0) & (_gather(iv, pos, -1) == tv) & (tt < _gather(wall_end, pos, 0))
    tick_kind = np.where(inside, _gather(ik, pos, PLAYING), PLAYING)
    ticks = tick_kind != AD
    tv, tt, tick_kind = tv[ticks], tt[ticks], tick_kind[ticks]
    hb_view = np.concatenate([iv[state_starts], iv[resumes], tv, idx[ended]])
    hb_time = np.concatenate([wall_start[state_starts], wall_end[resumes], tt, finish[ended]])
    hb_state = np.concatenate(
        [ik[state_starts], np.full(len(resumes), PLAYING), tick_kind, np.full(int(ended.sum()), -1)]
    )
    hb_order = np.concatenate(
        [np.full(len(state_starts), 2), np.full(len(resumes), 3), np.full(len(tv), 1),
         np.full(int(ended.sum()), 9)]
    )  # fmt: skip
    # Accounting time: the end after a fatal error counts up to the error, as the scalar does.
    acct = np.where(
        hb_state == -1, np.where(by_fatal[hb_view], fatal_wall[hb_view], hb_time), hb_time
    )
    o = np.lexsort((hb_order, hb_time, hb_view))
    hb_view, hb_time, hb_state, hb_order, acct = (
        x[o] for x in (hb_view, hb_time, hb_state, hb_order, acct)
    )
    stalled_c, seek_c, stopped_c, stall_n, down_n = _cumulative(
        iv, ik, wall_start, idur, downs, t_start, hb_view, acct
    )
    played_c = acct - t_start[hb_view] - stopped_c
    first = np.ones(len(hb_view), dtype=bool)
    first[1:] = hb_view[1:] != hb_view[:-1]

    def delta(c: np.ndarray) -> np.ndarray:
        d = np.diff(c, prepend=0)
        return np.where(first, c, d)

    rendition = np.clip(r0[hb_view] + (up_wall[hb_view] <= hb_time) - down_n, 0, len(LADDER) - 1)
    rendition = np.minimum(rendition, np.maximum(rendition_cap[hb_view], r0[hb_view]))
    media = np.where(
        live[hb_view],
        np.maximum(0, t_start[hb_view] - views.live_start_ms[s][hb_view] - 5_000)
        + (acct - t_start[hb_view]),
        np.minimum(played_c, duration[hb_view]),
    )
    target = (profile["buffer_target_ms"][hb_view] * rng.uniform(0.5, 1.0, len(hb_view))).astype(
        np.int64
    )
    buffer = np.where(
        live[hb_view],
        randint(rng, 2_000, 6_000, len(hb_view)),
        np.maximum(0, np.minimum(target, duration[hb_view] - media)),
    )
    buffer = np.where(hb_state == STALL, 0, buffer)
    fields = {
        "played_ms": delta(played_c),
        "stalled_ms": delta(stalled_c),
        "stall_count": delta(stall_n),
        "seek_ms": delta(seek_c),
        "bitrate_kbps": _KBPS[rendition],
        "playhead_ms": media,
        "buffer_ms": buffer,
    }
    beats = np.flatnonzero(hb_state >= 0)
    playing = hb_state[beats] == PLAYING
    dropped_frames = np.where(
        playing & (rng.random(len(beats)) < 0.1), randint(rng, 1, 30, len(beats)), 0
    )
    hv = hb_view[beats]
    # Live heartbeats carry live_latency_ms (tools.simulator.latency), the others none: two
    # pieces, as a column cannot leave an integer out of some rows.
    on_live = live[hv]
    latency = latency_ms(
        rng,
        viewer_base_ms(rng, m)[hv[on_live]],
        hb_time[beats][on_live],
        views.live_start_ms[s][hv[on_live]],
        live_end[hv[on_live]],
    )
    for part, extra in ((~on_live, {}), (on_live, {"live_latency_ms": latency})):
        pieces.add(
            "heartbeat",
            hb_time[beats][part],
            viewer[hv[part]],
            title[hv[part]],
            session[hv[part]],
            order=2,
            **{name: value[beats][part] for name, value in fields.items()},
            dropped_frames=dropped_frames[part],
            state=_STATE_OF[hb_state[beats]][part],
            **extra,
        )
    ends = np.flatnonzero(hb_state < 0)
    ev = hb_view[ends]
    reason = np.where(
        completed[ev],
        "completed",
        np.where(
            by_fatal[ev],
            "error",
            np.where(by_interruption[ev], "user_exit", views.exit_reason[s][ev]),
        ),
    ).astype(object)
    pieces.add(
        "playback_ended",
        hb_time[ends],
        viewer[ev],
        title[ev],
        session[ev],
        order=9,
        **{name: value[ends] for name, value in fields.items()},
        reason=reason,
    )
    # Renditions, errors.
    u = np.flatnonzero(upswitch)
    pieces.add(
        "quality_changed",
        up_wall[u],
        viewer[u],
        title[u],
        session[u],
        order=1,
        bitrate_kbps=_KBPS[np.minimum(r0[u] + 1, len(LADDER) - 1)],
        height=_HEIGHT[np.minimum(r0[u] + 1, len(LADDER) - 1)],
    )
    d = np.flatnonzero(downs & (wall_end < end[iv]))
    if len(d):
        _, _, _, _, downs_before = _cumulative(
            iv, ik, wall_start, idur, downs, t_start, iv[d], wall_end[d] - 1
        )
        level = r0[iv[d]] + (up_wall[iv[d]] <= wall_end[d]) - downs_before
        d, level = d[level > 0], level[level > 0]
        pieces.add(
            "quality_changed",
            wall_end[d],
            viewer[iv[d]],
            title[iv[d]],
            session[iv[d]],
            order=2,
            bitrate_kbps=_KBPS[np.minimum(level - 1, len(LADDER) - 1)],
            height=_HEIGHT[np.minimum(level - 1, len(LADDER) - 1)],
        )
    recoverable = rng.poisson(0.02 / MINUTE_MS * cut)
    rv = np.repeat(idx, recoverable)
    ru = (rng.random(len(rv)) * cut[rv]).astype(np.int64)
    which = rng.integers(0, len(_RECOVERABLE_CODES), len(rv))
    pieces.add(
        "playback_error",
        to_wall(rv, ru),
        viewer[rv],
        title[rv],
        session[rv],
        order=1,
        code=_RECOVERABLE_CODES[which],
        fatal=False,
        message=_RECOVERABLE_MESSAGES[which],
    )
    fv = np.flatnonzero(by_fatal)
    which = rng.integers(0, len(_FATAL_CODES), len(fv))
    pieces.add(
        "playback_error",
        fatal_wall[fv],
        viewer[fv],
        title[fv],
        session[fv],
        order=8,
        code=_FATAL_CODES[which],
        fatal=True,
        message=_FATAL_MESSAGES[which],
    )
    total_played = np.zeros(m, dtype=np.int64)
    np.add.at(total_played, hb_view, fields["played_ms"])
    return _Played(np.where(ended, finish, end), ended, completed, total_played)


def _gather(values: np.ndarray, pos: np.ndarray, empty: int) -> np.ndarray:
    """`values[pos]` with negative positions clipped to 0, and `empty` when there are none."""
    if len(values) == 0:
        return np.full(len(pos), empty, dtype=np.int64)
    return values[np.maximum(pos, 0)]


def _last_terminal_end(
    iv: np.ndarray, terminal: np.ndarray, wall_end: np.ndarray, m: int
) -> np.ndarray:
    out = np.zeros(m, dtype=np.int64)
    t = np.flatnonzero(terminal)
    out[iv[t]] = wall_end[t]
    return out


def _rendition_cap(rng: np.random.Generator, profile: dict[str, np.ndarray], m: int) -> np.ndarray:
    """`network.rendition_for` of each view's link: the highest rendition that fits."""
    bandwidth = profile["bandwidth_median_kbps"] * np.exp(rng.normal(0.0, 0.5, m))
    fits = (_KBPS[None, :] <= 0.7 * bandwidth[:, None]) & (
        _HEIGHT[None, :] <= profile["max_height"][:, None]
    )
    return np.where(fits.any(axis=1), len(LADDER) - 1 - np.argmax(fits[:, ::-1], axis=1), 0)


def _cumulative(
    iv: np.ndarray,
    ik: np.ndarray,
    wall_start: np.ndarray,
    idur: np.ndarray,
    downs: np.ndarray,
    t_start: np.ndarray,
    view: np.ndarray,
    at: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Stalled, seek and not-playing time, stalls begun and down-switches done, by `at`."""
    k = len(iv)
    if k == 0:
        zero = np.zeros(len(view), dtype=np.int64)
        return zero, zero, zero, zero, zero
    keys = iv * _KEY + (wall_start - t_start[iv])
    pos = np.searchsorted(keys, view * _KEY + (at - t_start[view]), side="right") - 1
    same = (pos >= 0) & (iv[np.maximum(pos, 0)] == view)
    p = np.maximum(pos, 0)
    new_view = np.ones(k, dtype=bool)
    new_view[1:] = iv[1:] != iv[:-1]
    overlap = np.where(same, np.clip(at - wall_start[p], 0, idur[p]), 0)
    out = []
    for mask, _partial in (
        (ik == STALL, True),
        (ik == SEEK, True),
        (np.ones(k, dtype=bool), True),
    ):
        incl = segment_cumsum(np.where(mask, idur, 0), new_view)
        before = incl[p] - np.where(mask[p], idur[p], 0)
        value = np.where(same, before + np.where(mask[p], overlap, 0), 0)
        out.append(value)
    stalls = segment_cumsum((ik == STALL).astype(np.int64), new_view)
    out.append(np.where(same, stalls[p], 0))
    finished_downs = segment_cumsum(downs.astype(np.int64), new_view)
    not_yet = downs[p] & (at < wall_start[p] + idur[p])
    out.append(np.where(same, finished_downs[p] - not_yet, 0))
    return tuple(out)
