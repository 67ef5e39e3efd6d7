#!/bin/bash
# The second case: synchronous replication (specs/testbed-sync.yaml) on a fresh test bed.
# Bootstrap from bare hosts, the intended primary promoted (pinned: the agent could otherwise
# promote a fresh clone), one standby synchronous; rows acknowledged by the primary survive a
# kill -9 of its postmaster; a second apply changes nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
scripts/testbed down >/dev/null 2>&1
scripts/testbed up --nodes 3 >/dev/null 2>&1 || fail "testbed up"

# The first configuration holds the standbys in standby until node1 is promoted: a Ctrl-C in
# that window leaves them held, and a plain re-run shows it and releases them (node1 first).
start=$SECONDS
"$pgha" apply specs/testbed-sync.yaml -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-sync0.log 2>&1 &
pid=$!
wait_for 240 "the standbys held, the resources pushed" bash -c "ssh -F .testbed/ssh_config node1 'crm_attribute --type nodes --node node2 --name pgha-held --query --quiet | grep -q . && cibadmin --query --scope resources | grep -q \"id=.pgsql.\"'"
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
[ "$rc" = 1 ] || { cat /tmp/pgha-e2e-sync0.log; fail "the interrupted sync bootstrap exited $rc"; }
on node1 "crm_attribute --type nodes --node node2 --name standby --query --quiet" | grep -q on || fail "node2 was not left held by the interruption"
"$pgha" apply specs/testbed-sync.yaml -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-sync.log 2>&1 \
  || { tail -30 /tmp/pgha-e2e-sync.log; fail "sync bootstrap failed"; }
bootstrap=$((SECONDS - start))
grep -qE "~ cib-push .*release node2, node3 from the standby mode an interrupted first configuration \(run [0-9-]+\) left them in" /tmp/pgha-e2e-sync.log \
  || { cat /tmp/pgha-e2e-sync.log; fail "the re-run did not show and release the held standbys"; }
on node1 "crm_attribute --type nodes --node node2 --name pgha-held --query --quiet 2>/dev/null" | grep -q . && fail "node2 still carries pgha's hold"
[ "$(promoted node1)" = node1 ] || fail "pgsql is promoted on '$(promoted node1)', not node1"
[ "$(roles node1 | awk '$1 == "pgsql" && $2 == "Unpromoted" {print $3}' | sort | tr '\n' ' ')" = "node2 node3 " ] || fail "standbys: $(roles node1)"
on node1 "crm_attribute --type nodes --node node2 --name standby --query --quiet 2>/dev/null" | grep -q on && fail "node2 left in standby"
wait_for 60 "a synchronous standby" bash -c "[ \"\$(ssh -F .testbed/ssh_config node1 \"cd / && runuser -u postgres -- psql -XAtc \\\"select count(*) from pg_stat_replication where sync_state = 'sync'\\\"\")\" = 1 ]"
sync_node=$(psql_on node1 "-c \"select application_name from pg_stat_replication where sync_state = 'sync'\"")
echo "sync bootstrap ${bootstrap}s (interrupted while the standbys were held, then resumed): node1 promoted, $sync_node synchronous"

"$pgha" apply specs/testbed-sync.yaml -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-sync2.log 2>&1 || { cat /tmp/pgha-e2e-sync2.log; fail "sync re-apply failed"; }
grep -q "^No changes" /tmp/pgha-e2e-sync2.log || { cat /tmp/pgha-e2e-sync2.log; fail "sync re-apply wanted changes"; }

# Every acknowledged row survives the loss of the primary.
psql_on node1 "-c \"create table acked(id int primary key)\"" >/dev/null
for i in $(seq 1 50); do psql_on node1 "-c \"insert into acked values ($i)\"" >/dev/null || fail "insert $i not acknowledged"; done
before=$SECONDS
on node1 'kill -9 $(head -1 /var/lib/postgresql/15/pgha/postmaster.pid)'
wait_for 120 "a standby promoted after the kill" standby_promoted node2 node2 node3
new=$(promoted node2)
[ "$(psql_on "$new" "-c 'select count(*) from acked'")" = 50 ] || fail "acknowledged rows lost on $new"
echo "kill -9 of node1's postmaster: $new promoted after $((SECONDS - before))s with all 50 acknowledged rows"

# The day-two repair of the sync cluster, then the drill: kill -9 of the primary three times,
# no acknowledged row missing.
"$pgha" apply specs/testbed-sync.yaml -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-sync3.log 2>&1 || { tail -30 /tmp/pgha-e2e-sync3.log; fail "the rejoin after the kill failed"; }
wait_for 60 "the sync cluster healthy after the rejoin" "$pgha" status specs/testbed-sync.yaml -i inventory/testbed.yaml
start=$SECONDS
set +e; out=$("$pgha" drill specs/testbed-sync.yaml -i inventory/testbed.yaml --fault kill-postgres --rounds 3 --yes --format json 2>/tmp/pgha-e2e-sync-drill.err); rc=$?; set -e
[ "$rc" = 0 ] || { echo "$out"; cat /tmp/pgha-e2e-sync-drill.err; fail "the sync drill exited $rc"; }
echo "sync drill, kill-postgres, 3 rounds: $((SECONDS - start))s"
python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["ok"] and r["replication"] == "sync" and len(r["rounds"]) == 3, r
for x in r["rounds"]:
    assert x["rows_missing"] == 0 and x["rows_acknowledged"] > 10, x
    print("  round %d: %s killed, %s promoted, writes back %.1f s, ro VIP back %.1f s, %d acked, 0 missing, healthy %.1f s"
          % (x["round"], x["target"], x["promoted"], x["write_recovery"], x["read_recovery"], x["rows_acknowledged"], x["healthy"]))
' <<<"$out" || fail "the sync drill's report: $out"
"$pgha" plan specs/testbed-sync.yaml -i inventory/testbed.yaml > /dev/null || fail "plan after the sync drill is not empty"
