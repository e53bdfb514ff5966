"""The memcached figures (plots.memcached) drawn from synthetic results: the
latency-against-load figure has one p99 and one p50 curve per server in each
workload's panel and the SLA across, and both PNGs are written."""

import os
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "harness"))

import plots  # noqa: E402

SERVERS = ["ix-memcached-memif", "memcached-loopback", "ix-memcached", "memcached"]


def points(knee):
    """A hockey stick: low latency up to the knee, then rising."""
    out = []
    for k in range(6):
        rate = knee * 2 ** (k - 4)
        p99 = 40 if rate <= knee else 40 * rate / knee * 8
        out.append({"offered": rate, "achieved": rate * 0.99, "p50_us": p99 / 3, "p99_us": p99,
                    "meets": p99 <= 500, "phase": "search-sweep"})
    out.append({"offered": knee * 4, "achieved": knee * 3, "p50_us": 900, "p99_us": None,
                "meets": False, "phase": "search-retry"})
    return out


def results():
    rows = []
    for i, srv in enumerate(SERVERS):
        for wl in ("etc", "usr"):
            rows.append({"server": srv, "workload": wl, "round": 1, "rate_at_sla": 1e5 / (i + 1),
                         "sla_coarse": i == 3, "points": points(1e5 / (i + 1))})
    rows.append({"server": "ix-memcached", "workload": "server counters", "round": 1})
    return {"name": "memcached", "rows": rows}


class MemcachedFigures(unittest.TestCase):
    def test_one_p99_and_one_p50_curve_per_server_and_the_sla(self):
        fig = plots.latency_figure(results())
        self.assertIsNotNone(fig)
        axes = fig.get_axes()
        self.assertEqual(len(axes), 2)
        for ax in axes:
            labels = [line.get_label() for line in ax.get_lines()]
            self.assertEqual(sum(label.endswith(" p99") for label in labels), len(SERVERS))
            self.assertEqual(sum(label.endswith(" p50") for label in labels), len(SERVERS))
            sla = [line for line in ax.get_lines() if line.get_label().startswith("SLA")]
            self.assertEqual(len(sla), 1)
            self.assertEqual(list(sla[0].get_ydata()), [500, 500])
            self.assertEqual(ax.get_yscale(), "log")
            # Every measured point is drawn (faintly): the one with over 1%
            # unanswered has no p99 but keeps its p50.
            pairs = list(zip(ax.collections[0::2], ax.collections[1::2]))
            self.assertEqual(len(pairs), len(SERVERS))
            for p99_pts, p50_pts in pairs:  # per server: its p99 points, then its p50 points
                self.assertEqual(len(p99_pts.get_offsets()) + 1, len(p50_pts.get_offsets()))
            # The curves go through medians of rate ranges, left to right.
            p99 = next(line for line in ax.get_lines() if line.get_label().endswith(" p99"))
            xs = list(p99.get_xdata())
            self.assertEqual(xs, sorted(xs))
            self.assertLessEqual(len(xs), 14)
        plots.plt.close(fig)

    def test_both_pngs_are_written(self):
        with tempfile.TemporaryDirectory() as d:
            paths = plots.memcached(results(), d)
            self.assertEqual([os.path.basename(p) for p in paths],
                             ["memcached.png", "memcached_latency.png"])
            for p in paths:
                self.assertGreater(os.path.getsize(p), 1000)

    def test_nothing_to_draw_without_rows(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(plots.memcached({"name": "memcached", "rows": []}, d), [])


if __name__ == "__main__":
    unittest.main()
