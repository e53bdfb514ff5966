#!/usr/bin/env bash
# The benchmark harness end to end: `bench/run.sh --quick` (every experiment,
# IX and Linux servers in namespaces, about two minutes) into a temporary
# directory, then its output is checked: results.json and every experiment's
# JSON parse, every CSV has a header and rows of the same width, the summary
# has a row per ratio, the figures are PNG files, and no step failed.
# Figures are not asserted: speed belongs to the benchmark, not the test.
source "$(dirname "$0")/lib.sh"

out="$WORK/bench"
t0=$SECONDS
# bench/run.sh makes and removes its own namespaces (prefix bh<pid>). This
# test checks the harness's wiring, not its figures, so its longest runs are
# cut short: the loss step at two of its four rates with a shorter
# request/response run, two batch bounds (of four), two echo message counts
# (of three) and shorter memcached runs.
timeout 600 "$ROOT/bench/run.sh" --quick --build-dir "$BUILD" --no-build --out "$out" \
  --set 'loss_rates=[0,5]' --set loss_rr_seconds=1 --set 'batches=[1,64]' \
  --set 'echo_n=[1,1024]' --set mc_time=0.3 --set mc_warmup=0.1 \
  --no-readme >"$WORK/bench.log" 2>&1 || {
  tail -40 "$WORK/bench.log" >&2
  fail "bench/run.sh --quick exited with an error"
}
pass "bench/run.sh --quick finished in $((SECONDS - t0)) s"

/usr/bin/python3 - "$out" <<'PY' || fail "the harness's output is not well-formed"
import csv, json, os, sys

out = sys.argv[1]
doc = json.load(open(os.path.join(out, "results.json")))
for k in ("command", "date", "machine", "mode", "experiments"):
    assert k in doc, f"results.json lacks {k}"
assert doc["mode"] == "quick" and "interrupted" not in doc, doc.get("interrupted")
assert doc["machine"]["kernel"] and doc["machine"]["cpu_model"], doc["machine"]
names = [e["name"] for e in doc["experiments"]]
assert names == ["latency", "echo", "memcached", "scale", "batching", "pool", "loss",
                 "protected", "elastic"], names

def read_csv(path):
    rows = list(csv.reader(open(path)))
    assert rows, f"{path} is empty"
    width = len(rows[0])
    for i, r in enumerate(rows):
        assert len(r) == width, f"{path}: row {i} has {len(r)} fields, the header {width}"
    return rows

problems = []
for e in doc["experiments"]:
    n = e["name"]
    on_disk = json.load(open(os.path.join(out, f"{n}.json")))
    assert on_disk["rows"] == e["rows"], f"{n}.json differs from results.json"
    rows = read_csv(os.path.join(out, f"{n}.csv"))
    assert len(rows) - 1 == len(e["rows"]), f"{n}.csv has {len(rows) - 1} rows, JSON {len(e['rows'])}"
    if n != "memcached" or e["rows"]:
        assert e["rows"], f"{n}: no measurements"
        assert e["summary"], f"{n}: no summary"
        assert e["bounds"], f"{n}: does not say what bounds it"
    for s in e["summary"]:
        assert s["metric"] and "goal" in s and "ratio" in s, s
    for f in e.get("figures", []):
        with open(os.path.join(out, f), "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n", f"{f} is not a PNG"
    if n in ("latency", "echo", "scale", "batching", "loss", "elastic") and not e.get("figures"):
        problems.append(f"{n}: no figure drawn")
    problems += [f"{n}: {x}" for x in e["errors"]]
    print(f"{n}: {len(e['rows'])} rows, {len(e['summary'])} summary lines, figures {e.get('figures')}")

# Ratios come from the same run: every summary ratio has both sides measured
# (a measured 0, e.g. no rate met the SLA, is a figure, not a missing one).
for e in doc["experiments"]:
    for s in e["summary"]:
        if s["ratio"] is not None and e.get("columns", ["IX", "Linux"])[0] == "IX":
            assert isinstance(s["ix"], (int, float)) and isinstance(s["linux"], (int, float)), s
summary = read_csv(os.path.join(out, "summary.csv"))
assert summary[0][:5] == ["experiment", "metric", "ix", "linux", "ratio"], summary[0]
assert len(summary) - 1 == sum(len(e["summary"]) for e in doc["experiments"])
if problems:
    sys.exit("harness steps failed:\n  " + "\n  ".join(problems))
PY
pass "results.json, per-experiment JSON/CSV, summary.csv and figures are well-formed"
# Nothing left behind: the harness's namespaces are gone.
left=$(ip netns list | awk '{print $1}' | grep -E '^bh[0-9]+(ix|ix2|lx|loss|pl)-' || true)
[ -z "$left" ] || fail "namespaces left behind: $left"
pass "no namespaces left behind"
echo "bench_quick_test: all passed in $((SECONDS - t0)) s"
