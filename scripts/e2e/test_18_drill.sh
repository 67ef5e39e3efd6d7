#!/bin/bash
# After test_16 (the shared, healthy async cluster): `pgha drill`. Bad input and a degraded
# cluster are refused before anything is touched; `--fault kill-postgres --rounds 3` and
# `--fault fence --rounds 1` on the primary pass, with their numbers; the drill's write gaps
# agree within 1 s with those of a writer this test runs itself through the rw VIP; the
# cluster is healthy, plan exits 0, and the drill's table and logs are gone afterwards.
# Leaves node1 the primary again (pgha switchover) for test_19.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
spec=specs/testbed.yaml inv=inventory/testbed.yaml
"$pgha" status $spec -i $inv >/dev/null || fail "expects a healthy cluster"
drill() { set +e; out=$("$pgha" drill $spec -i $inv "$@" 2>/tmp/pgha-e2e-drill.err); rc=$?; set -e; }
no_trace() {
  for n in node1 node2 node3; do
    [ "$(on $n 'ls -d /tmp/pgha-drill-* 2>/dev/null | wc -l')" = 0 ] || fail "$1: a drill directory is left on $n"
  done
  [ "$(psql_on "$(promoted node1)" "-c \"select count(*) from pg_tables where tablename = 'pgha_drill'\"")" = 0 ] || fail "$1: the drill's table is left"
}

# Bad input: exit 1, nothing touched.
drill --fault unplug --yes; [ "$rc" = 1 ] || fail "an unknown fault exited $rc"
grep -q "kill-postgres" /tmp/pgha-e2e-drill.err || fail "the unknown fault's error does not list the faults"
drill --fault kill-postgres --node node9 --yes; [ "$rc" = 1 ] || fail "an unknown node exited $rc"
grep -q "'node9' is not a node" /tmp/pgha-e2e-drill.err || fail "the unknown node is not named: $(cat /tmp/pgha-e2e-drill.err)"
drill --fault kill-postgres; [ "$rc" = 1 ] || fail "a drill without --yes and no terminal exited $rc"
# A degraded cluster (the ro VIP's address deleted by hand): refused with status's reasons.
ro=$(where node1 vip-slave)
on "$ro" "ip addr del 10.77.0.101/24 dev eth0"
drill --fault kill-postgres --yes
[ "$rc" = 1 ] || fail "a drill on a degraded cluster exited $rc"
grep -q "not healthy" /tmp/pgha-e2e-drill.err || fail "the refusal does not say why: $(cat /tmp/pgha-e2e-drill.err)"
no_trace "the refused drill"
echo "refused, exit 1, nothing touched: unknown fault, unknown node, no confirmation, degraded cluster (ro VIP deleted)"
# Pacemaker restores the ro VIP after its next monitor (10 s); the failed monitor stays until
# pgha apply clears it, so apply once the plan shows it.
plan_pending() { "$pgha" plan $spec -i $inv > /dev/null 2>&1; [ $? = 2 ]; }
wait_for 60 "Pacemaker noticing the deleted ro VIP (plan exits 2)" plan_pending
"$pgha" apply $spec -i $inv --yes > /tmp/pgha-e2e-drill-apply.log 2>&1 || { cat /tmp/pgha-e2e-drill-apply.log; fail "apply after the ro VIP's deletion"; }
wait_for 60 "the cluster healthy again" "$pgha" status $spec -i $inv

# A writer of the test's own on node3 (e2e_app, made by test_10) through the rw VIP.
psql_on "$(promoted node1)" "-c 'create table e2e_drill(id int primary key)' -c 'grant insert on e2e_drill to e2e_app'" >/dev/null
# An insert starts every 0.1 s whether the one before has finished or not (a connection attempt
# to a VIP without a server can hang 2 s, libpq's minimum connect timeout): 0.1 s resolution.
on node3 'rm -f /tmp/e2e-drill-acks /tmp/e2e-drill-stop; (i=0; until [ -e /tmp/e2e-drill-stop ]; do i=$((i+1)); (PGPASSWORD=e2e-app-pw psql -X -q -h 10.77.0.100 -U e2e_app -d "dbname=postgres connect_timeout=2" -c "insert into e2e_drill values ($i)" >/dev/null 2>&1 && echo "$(date +%s.%N)" >> /tmp/e2e-drill-acks) & sleep 0.1; done; wait) > /dev/null 2>&1 < /dev/null &'
sleep 2

start=$SECONDS
drill --fault kill-postgres --rounds 3 --yes --format json
[ "$rc" = 0 ] || { echo "$out"; cat /tmp/pgha-e2e-drill.err; fail "the kill-postgres drill exited $rc"; }
on node3 'touch /tmp/e2e-drill-stop'; sleep 1
echo "kill-postgres, 3 rounds: $((SECONDS - start))s"
printf '%s' "$out" > /tmp/pgha-e2e-drill.json
on node3 'cat /tmp/e2e-drill-acks' > /tmp/pgha-e2e-drill-outside
python3 - /tmp/pgha-e2e-drill.json /tmp/pgha-e2e-drill-outside <<'PY' || fail "the drill's report"
import json, sys
r = json.load(open(sys.argv[1]))
acks = sorted(float(x) for x in open(sys.argv[2]).read().split())
assert r["ok"] and r["format"] == 1 and r["fault"] == "kill-postgres" and len(r["rounds"]) == 3, r
for x in r["rounds"]:
    for key in ("write_recovery", "write_gap", "read_recovery", "healthy", "promoted"):
        assert key in x, (key, x)
    assert x["promoted"] != x["target"], x
    assert x["rows_acknowledged"] > 10, x
    print("  round %d: %s killed, %s promoted, writes back %.1f s (gap %.1f s), ro VIP back %.1f s, %d acked, %s missing, healthy %.1f s; repair: %s"
          % (x["round"], x["target"], x["promoted"], x["write_recovery"], x["write_gap"], x["read_recovery"], x["rows_acknowledged"],
             x.get("rows_missing", "?"), x["healthy"], " | ".join(x["repair"]) or "-"))
s = r["summary"]["write_recovery"]
print("  writes back: min %.1f / median %.1f / max %.1f s" % (s["min"], s["median"], s["max"]))
# The outside writer's three longest gaps, in time order, against the drill's write gaps.
gaps = sorted(sorted(((b - a), a) for a, b in zip(acks, acks[1:]))[-3:], key=lambda g: g[1])
drill = [x["write_gap"] for x in r["rounds"]]
for (outside, _), mine in zip(gaps, drill):
    print("  write gap: drill %.2f s, outside writer %.2f s" % (mine, outside))
    assert abs(outside - mine) <= 1.0, (outside, mine)
PY
"$pgha" status $spec -i $inv >/dev/null || fail "status after the kill-postgres drill is not healthy"
no_trace "the kill-postgres drill"

# Fencing the primary: the cluster's own power path (the bed's fence agent powers it off and on).
start=$SECONDS
drill --fault fence --yes
[ "$rc" = 0 ] || { echo "$out"; cat /tmp/pgha-e2e-drill.err; fail "the fence drill exited $rc"; }
echo "fence, 1 round: $((SECONDS - start))s"
grep -q "^Drill passed." <<<"$out" || fail "no 'Drill passed.': $out"
sed 's/^/  /' <<<"$out"
"$pgha" status $spec -i $inv >/dev/null || fail "status after the fence drill is not healthy"
"$pgha" plan $spec -i $inv >/dev/null || fail "plan after the drills is not empty"
no_trace "the fence drill"

# No false failover under load with pgha's fast defaults (monitors every 1 s and 2 s, one
# agreeing look): 40 s of pgbench writes on the primary (8 clients; the standbys replay all of
# it) while two CPU burners run on each standby — on this machine's 2 shared cores that slows
# every host's monitors. The primary stays where it is, no failed action, no fail count.
primary=$(promoted node1)
standbys=$(for n in node1 node2 node3; do [ "$n" = "$primary" ] || echo "$n"; done)
on "$primary" "cd / && runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -q -i -s 5 postgres" >/dev/null 2>&1 || fail "pgbench -i on $primary"
for n in $standbys; do on "$n" "for i in 1 2; do setsid -f timeout 40 sh -c 'while :; do :; done' >/dev/null 2>&1 </dev/null; done"; done
start=$SECONDS
on "$primary" "cd / && runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -c 8 -j 2 -T 40 postgres" > /tmp/pgha-e2e-pgbench.log 2>&1 &
bench=$!
moved=
while kill -0 $bench 2>/dev/null; do
  now=$(promoted node1 2>/dev/null || true)
  [ -z "$now" ] || [ "$now" = "$primary" ] || moved="$moved $now"
  sleep 2
done
wait $bench || { tail -5 /tmp/pgha-e2e-pgbench.log; fail "pgbench under load failed"; }
[ -z "$moved" ] || fail "the primary moved under load to:$moved"
[ "$(promoted node1)" = "$primary" ] || fail "after the load the primary is $(promoted node1), not $primary"
failures=$(on node1 "crm_mon -1 --output-as=xml" | python3 -c 'import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.stdin).getroot(); print(len(list(r.iter("failure"))))')
[ "$failures" = 0 ] || fail "failed actions after the load: $(on node1 'crm_mon -1 | sed -n "/Failed/,\$p"')"
"$pgha" status $spec -i $inv >/dev/null || fail "status after the load is not healthy"
tps=$(grep -o "tps = [0-9.]*" /tmp/pgha-e2e-pgbench.log | head -1)
psql_on "$primary" "-c 'drop table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers'" >/dev/null
echo "under load ($((SECONDS - start))s of pgbench -c 8 on $primary, $tps, 2 CPU burners per standby): $primary stayed primary, no failed action, status healthy"

# test_19 expects node1 to be the primary.
if [ "$(promoted node1)" != node1 ]; then
  "$pgha" switchover $spec -i $inv --to node1 --yes > /tmp/pgha-e2e-drill-switchover.log 2>&1 || { cat /tmp/pgha-e2e-drill-switchover.log; fail "switchover back to node1"; }
fi
psql_on node1 "-c 'drop table e2e_drill'" >/dev/null
echo "drills passed; healthy, plan exits 0, no table or log left; node1 primary again"
