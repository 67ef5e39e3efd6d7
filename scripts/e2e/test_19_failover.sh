#!/bin/bash
# After test_10_apply: day two. Kill the primary's postmaster, then power off the new primary
# and power it on again. Each time Pacemaker promotes a standby and the rw VIP follows; then
# `pgha status` exits 2 naming the node, `pgha plan` exits 2 with its rejoin, `pgha apply --yes`
# brings every node back streaming, `pgha status` and `pgha plan` exit 0, and every row
# acknowledged (and replayed by the standbys: replication is async) before the fault is there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
spec=specs/testbed.yaml inv=inventory/testbed.yaml
[ "$(promoted node1)" = node1 ] || fail "expects the cluster of test_10_apply with node1 promoted"

rows=$(psql_on node1 "-c 'select count(*) from e2e'")
# write ON: one more row through the primary ON, and wait until every standby replayed it.
write() {
  local primary=$1
  rows=$((rows + 1))
  psql_on "$primary" "-c \"insert into e2e select coalesce(max(id), 0) + 1, 'acknowledged before a fault' from e2e\"" >/dev/null
  local lsn; lsn=$(psql_on "$primary" "-c 'select pg_current_wal_lsn()'")
  wait_for 30 "the standbys replayed row $rows" bash -c "[ \"\$(ssh -F .testbed/ssh_config $primary \"cd / && runuser -u postgres -- psql -X -At -c \\\"select count(*) from pg_stat_replication where replay_lsn >= '$lsn'\\\"\")\" = 2 ]"
}
# repair NODE: the day-two cycle after a fault that left NODE out of the cluster.
repair() {
  local node=$1 start=$SECONDS
  exits 2 "status after the fault" "$pgha" status $spec -i $inv
  grep -q "✗ $node: " <<<"$out" || { printf '%s\n' "$out"; fail "status does not name $node"; }
  exits 2 "plan after the fault" "$pgha" plan $spec -i $inv
  grep -qE "^  [~!] rejoin +$node " <<<"$out" || { printf '%s\n' "$out"; fail "the plan has no rejoin of $node"; }
  grep -E "^  [~!] rejoin" <<<"$out"
  exits 0 "apply" "$pgha" apply $spec -i $inv --yes
  exits 0 "status after the apply" "$pgha" status $spec -i $inv
  printf '%s\n' "$out" | head -1
  exits 0 "plan after the apply" "$pgha" plan $spec -i $inv
  local primary; primary=$(promoted "$node")
  [ "$(psql_on "$node" "-c 'select count(*) from e2e'")" = "$rows" ] || fail "$node does not have the $rows rows after its rejoin"
  [ "$(psql_on "$primary" "-c 'select count(*) from e2e'")" = "$rows" ] || fail "rows lost on $primary"
  echo "$node rejoined and streaming from $primary in $((SECONDS - start))s (status, plan, apply, status, plan); $rows rows on both"
}

# 1. kill -9 of the primary's postmaster.
write node1
start=$SECONDS
on node1 'kill -9 $(head -1 /var/lib/postgresql/15/pgha/postmaster.pid)'
wait_for 90 "a standby promoted after the kill" standby_promoted node2 node2 node3
new=$(promoted node2)
wait_for 60 "the rw VIP on $new" bash -c "ssh -F .testbed/ssh_config $new 'ip -4 addr show eth0' | grep -q 10.77.0.100/24"
echo "kill -9 of node1's postmaster: $new promoted and holds the rw VIP after $((SECONDS - start))s"
repair node1

# 2. power the new primary's host off: it is fenced, another node promoted; then power it on.
write "$new"
start=$SECONDS
scripts/testbed poweroff "$new" 2>/dev/null
others=$(printf '%s\n' node1 node2 node3 | grep -vx "$new" | tr '\n' ' ')
ask=${others%% *}
wait_for 120 "another node promoted after $new lost power" standby_promoted "$ask" $others
next=$(promoted "$ask")
wait_for 60 "the rw VIP on $next" bash -c "ssh -F .testbed/ssh_config $next 'ip -4 addr show eth0' | grep -q 10.77.0.100/24"
echo "power-off of $new: $next promoted and holds the rw VIP after $((SECONDS - start))s"
# Fencing reboots it (the fence agent's default action); power it on in case it stayed off.
scripts/testbed poweron "$new" >/dev/null 2>&1
repair "$new"
