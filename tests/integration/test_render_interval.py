#!/usr/bin/env python3
"""The exposition is rendered at most once per --web.min-render-interval while polls keep
ending, and never more than about that interval behind them.

Twelve plugs polled every second (at phases spread over the second) end a poll about every
80 ms; with the default interval (1 s) the body a scraper sees every 50 ms changes about once
a second, not at every poll, and with 0 it changes about as often as the polls end."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PLUGS = [(f"r{i}", ("hs110v2", "hs100", "hs110v1")[i % 3]) for i in range(12)]
WATCH_S = 4.5


def body_changes(args):
    """Scrapes every 50 ms for WATCH_S seconds; returns the times (monotonic, at the
    request's start) of the scrapes whose polls_total sum differed from the one before."""
    sim = harness.start_sim([harness.plug_spec(p) for _, p in PLUGS])
    inv = harness.inventory([(n, sim.port(i)) for i, (n, _) in enumerate(PLUGS)],
                            interval="1s", timeout="500ms")
    daemon = harness.start_daemon(inv, args=args)
    harness.wait_up(daemon, [n for n, _ in PLUGS], timeout=10)
    changes, last = [], None
    t_end = time.monotonic() + WATCH_S
    while time.monotonic() < t_end:
        t = time.monotonic()
        m = daemon.metrics()
        polls = sum(v for _, v in m.find("tplink_polls_total"))
        if last is not None and polls != last:
            changes.append(t)
        last = polls
        time.sleep(0.05)
    daemon.terminate()
    sim.terminate()
    return changes


def test_default_interval_caps_renders():
    changes = body_changes(("--web.min-render-interval=1s",))
    gaps = [b - a for a, b in zip(changes, changes[1:])]
    # Two renders are at least 1 s apart in the daemon's time; a scrape sees a render up to
    # one scrape period (plus its own latency) late, hence the slack below 1 s.
    assert gaps and min(gaps) >= 0.8, f"the body changed {len(changes)} times, gaps {gaps}"
    # Polls never stop ending, so each interval brings a new render: the data is never much
    # more than the interval old.
    assert len(changes) >= int(WATCH_S) - 1, f"only {len(changes)} changes in {WATCH_S} s"
    assert max(gaps) <= 1.6, f"a gap of {max(gaps):.2f} s between renders, gaps {gaps}"


def test_zero_renders_on_every_change():
    changes = body_changes(("--web.min-render-interval=0",))
    # About 12 poll ends a second against about 15 scrapes: most scrapes see a new body.
    assert len(changes) >= 3 * WATCH_S, f"only {len(changes)} changes in {WATCH_S} s"


if __name__ == "__main__":
    harness.run([test_default_interval_caps_renders, test_zero_renders_on_every_change])
