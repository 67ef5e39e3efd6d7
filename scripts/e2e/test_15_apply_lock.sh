#!/bin/bash
# One apply at a time: two applies started together on a drifted cluster, exactly one runs and
# the other exits 1 at once naming the holder; a lock held by another controller is shown by
# plan, refuses apply while its lease is fresh and is taken over once it is stale. On the
# cluster of test_10_apply.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
plan() { set +e; out=$("$pgha" plan specs/testbed.yaml -i inventory/testbed.yaml 2>&1); rc=$?; set -e; }
apply_to() { local rc=0; "$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes > "$1" 2>&1 || rc=$?; echo $rc >> "$1"; }
plan
[ "$rc" = 0 ] || fail "the cluster is not converged before the test: $out"

# 1. Two applies together: drift that takes a moment to repair (pcsd stopped and disabled).
on node1 "systemctl disable --now pcsd >/dev/null 2>&1"
on node2 "systemctl disable --now pcsd >/dev/null 2>&1"
a=$(mktemp) b=$(mktemp)
apply_to "$a" & pa=$!
apply_to "$b" & pb=$!
wait $pa $pb || true
rca=$(tail -1 "$a") rcb=$(tail -1 "$b")
if [ "$rca" = 0 ] && [ "$rcb" = 1 ]; then won=$a lost=$b
elif [ "$rca" = 1 ] && [ "$rcb" = 0 ]; then won=$b lost=$a
else fail "expected one apply to run and one to be refused, got exits $rca and $rcb: $(cat "$a") /// $(cat "$b")"; fi
grep -q "an apply is running: run .* of pgha pid .* on $(hostname)" "$lost" || fail "the refused apply does not name the holder: $(cat "$lost")"
grep -q "Nothing was changed." "$lost" || fail "the refused apply does not say nothing changed: $(cat "$lost")"
grep -q "Apply complete" "$won" || fail "the apply that ran did not complete: $(cat "$won")"
on node1 "[ ! -e /run/pgha/apply.lock ]" || fail "node1 still holds a lock after the apply"
plan
[ "$rc" = 0 ] || fail "plan after the apply exited $rc: $out"

# 2. Another controller's apply (a lock written by hand, renewed now) on node2 only.
now=$(on node2 "date +%s")
on node2 "mkdir -p -m 700 /run/pgha && printf 'run=20261202-000000\ncontroller=other-controller\npid=4242\nstarted=$now\nrenewed=$now\n' > /run/pgha/apply.lock"
plan
[ "$rc" = 0 ] || fail "plan during another apply exited $rc: $out"
grep -q "^Note: an apply is running: run 20261202-000000 of pgha pid 4242 on other-controller" <<<"$out" || fail "plan does not say an apply is running: $out"
on node1 "systemctl disable pcsd >/dev/null 2>&1"
set +e; refused=$("$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes 2>&1); arc=$?; set -e
[ "$arc" = 1 ] || fail "apply during another's fresh lease exited $arc: $refused"
grep -q "error: node2: an apply is running: run 20261202-000000 of pgha pid 4242 on other-controller" <<<"$refused" || fail "the refusal does not name the holder: $refused"
[ "$(on node1 "systemctl is-enabled pcsd" || true)" = disabled ] || fail "the refused apply changed node1"
on node1 "[ ! -e /run/pgha/apply.lock ]" || fail "the refused apply left its lock on node1"
# The lease runs out: 70 s without renewal.
on node2 "sed -i 's/^renewed=.*/renewed=$((now - 70))/' /run/pgha/apply.lock"
set +e; taken=$("$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes 2>&1); arc=$?; set -e
[ "$arc" = 0 ] || fail "apply after the lease ran out exited $arc: $taken"
grep -q "note: node2: took over the lock of run 20261202-000000 of pgha pid 4242 on other-controller.*: not renewed for 7[0-9] s" <<<"$taken" || fail "the take-over is not reported: $taken"
[ "$(on node1 "systemctl is-enabled pcsd")" = enabled ] || fail "pcsd was not repaired on node1"
on node2 "[ ! -e /run/pgha/apply.lock ]" || fail "node2 still holds a lock after the apply"
plan
[ "$rc" = 0 ] || fail "plan after the take-over exited $rc: $out"
echo "one apply at a time; a stale lease is taken over and said"
