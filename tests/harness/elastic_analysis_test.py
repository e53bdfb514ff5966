"""The elastic experiment's analysis (bench/harness/elastic.py) on synthetic
runs and control-socket samples: intervals line ix-load's runs up with the
samples (threads in service, CPU cores used), the steps are where the rate
changes, the time to the second core counts only when there was one thread
at the step, and the low-load CPU leaves out each low phase's first
seconds."""

import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "harness"))

import elastic  # noqa: E402

T0 = 1000.0


def run(start, rate, p99=100.0, achieved=None, seconds=0.1):
    return {"start_unix_s": T0 + start, "seconds": seconds, "target_rate": rate,
            "achieved_rate": achieved if achieved is not None else rate, "p99_us": p99}


class ElasticAnalysis(unittest.TestCase):
    def test_intervals_take_threads_and_cpu_from_the_samples_inside(self):
        runs = [run(0.0, 1000), run(0.1, 9000)]
        # (time, threads in service, server CPU seconds): 0.5 cores in the
        # first run, 1.5 in the second (a sample on the border counts for
        # both), where a second thread came.
        samples = [(T0 + 0.00, 1, 10.00), (T0 + 0.05, 1, 10.025), (T0 + 0.10, 1, 10.05),
                   (T0 + 0.11, 1, 10.05), (T0 + 0.15, 2, 10.11), (T0 + 0.20, 2, 10.20)]
        rows = elastic.intervals(runs, samples, T0)
        self.assertEqual([r["t_s"] for r in rows], [0.0, 0.1])
        self.assertEqual([r["threads"] for r in rows], [1, 2])
        self.assertAlmostEqual(rows[0]["cpu_cores"], 0.5, places=3)
        self.assertAlmostEqual(rows[1]["cpu_cores"], 1.5, places=3)
        self.assertEqual(elastic.step_times(rows), [0.1])

    def test_a_run_without_samples_has_no_figures(self):
        rows = elastic.intervals([run(5.0, 1000)], [(T0, 1, 1.0)], T0)
        self.assertIsNone(rows[0]["threads"])
        self.assertIsNone(rows[0]["cpu_cores"])

    def test_grow_delay_needs_one_thread_at_the_step(self):
        samples = [(T0 + 0.99, 1, 0), (T0 + 1.004, 1, 0), (T0 + 1.021, 2, 0)]
        self.assertAlmostEqual(elastic.grow_delay_s(samples, T0 + 1.0), 0.021, places=6)
        # Two threads in service already: nothing was added.
        self.assertIsNone(elastic.grow_delay_s([(T0 + 0.99, 2, 0), (T0 + 1.01, 2, 0)], T0 + 1.0))
        # Never grew.
        self.assertIsNone(elastic.grow_delay_s([(T0 + 0.99, 1, 0), (T0 + 1.5, 1, 0)], T0 + 1.0))
        self.assertIsNone(elastic.grow_delay_s([], T0 + 1.0))

    def test_low_load_cpu_leaves_out_the_settling_part_of_each_low_phase(self):
        rows = [{"t_s": t, "target_rate": rate, "cpu_cores": cpu} for t, rate, cpu in [
            (0.0, 1000, 2.0), (0.5, 1000, 1.5), (1.0, 1000, 1.0), (1.5, 1000, 1.0),
            (2.0, 9000, 2.0), (2.5, 9000, 2.0),
            (3.0, 1000, 2.0), (3.5, 1000, 1.2), (4.0, 1000, 1.0)]]
        self.assertEqual(elastic.low_load_cpu(rows, 1.0), [1.0, 1.0, 1.0])
        self.assertEqual(elastic.low_load_cpu(rows, 0.5), [1.5, 1.0, 1.0, 1.2, 1.0])
        self.assertEqual(elastic.low_load_cpu([], 1.0), [])


if __name__ == "__main__":
    unittest.main()
