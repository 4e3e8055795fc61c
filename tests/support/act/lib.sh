# Sourced by each stand-in after the per-run settings (WORLD, TEST_PYTHON, ...).

# record KIND key=value...: one line of $WORLD/calls.jsonl, with the job it ran in.
record() {
  "$TEST_PYTHON" -I -c '
import json, os, sys
kind, pairs = sys.argv[2], sys.argv[3:]
entry = {"kind": kind, "job": os.environ.get("GITHUB_JOB"), "workflow": os.environ.get("GITHUB_WORKFLOW")}
entry["inputs"] = dict(pair.split("=", 1) for pair in pairs)
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(json.dumps(entry) + "\n")
' "$WORLD/calls.jsonl" "$@"
}
