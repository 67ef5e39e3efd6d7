#!/bin/bash
# After test_10_apply: day two. Kill the primary's postmaster, then power off the new primary
# and power it on again, then power off a primary that holds commits no standby got. Each time Pacemaker promotes a standby and the rw VIP follows; then
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
# repair NODE [PATTERN]: the day-two cycle after a fault that left NODE out of the cluster (the
# plan's rejoin line matches PATTERN, when given).
repair() {
  local node=$1 pattern=${2:-} start=$SECONDS
  exits 2 "status after the fault" "$pgha" status $spec -i $inv
  grep -q "✗ $node: " <<<"$out" || { printf '%s\n' "$out"; fail "status does not name $node"; }
  exits 2 "plan after the fault" "$pgha" plan $spec -i $inv
  grep -qE "^  [~!] rejoin +$node " <<<"$out" || { printf '%s\n' "$out"; fail "the plan has no rejoin of $node"; }
  grep -E "^  [~!] rejoin" <<<"$out"
  [ -z "$pattern" ] || grep -qE "^  [~!] rejoin +$node .*$pattern" <<<"$out" || fail "the rejoin of $node does not say /$pattern/"
  exits 0 "apply" "$pgha" apply $spec -i $inv --yes
  exits 0 "status after the apply" "$pgha" status $spec -i $inv
  printf '%s\n' "$out" | head -1
  exits 0 "plan after the apply" "$pgha" plan $spec -i $inv
  local primary; primary=$(promoted "$node")
  [ "$(psql_on "$node" "-c 'select count(*) from e2e'")" = "$rows" ] || fail "$node does not have the $rows rows after its rejoin"
  [ "$(psql_on "$primary" "-c 'select count(*) from e2e'")" = "$rows" ] || fail "rows lost on $primary"
  echo "$node rejoined and streaming from $primary in $((SECONDS - start))s (status, plan, apply, status, plan); $rows rows on both"
}

# lose_power NODE: NODE's host powered off; waits until another node is promoted and holds the
# rw VIP ($next, after $took s), then powers NODE on (fencing reboots it — the fence agent's
# default action — but it may have stayed off).
lose_power() {
  local node=$1 start=$SECONDS others ask
  scripts/testbed poweroff "$node" 2>/dev/null
  others=$(printf '%s\n' node1 node2 node3 | grep -vx "$node" | tr '\n' ' ')
  ask=${others%% *}
  wait_for 120 "another node promoted after $node lost power" standby_promoted "$ask" $others
  next=$(promoted "$ask")
  wait_for 60 "the rw VIP on $next" bash -c "ssh -F .testbed/ssh_config $next 'ip -4 addr show eth0' | grep -q 10.77.0.100/24"
  took=$((SECONDS - start))
  scripts/testbed poweron "$node" >/dev/null 2>&1
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
lose_power "$new"
echo "power-off of $new: $next promoted and holds the rw VIP after ${took}s"
repair "$new"

# 3. the primary's WAL senders frozen (SIGSTOP), rows committed there that no standby received,
#    then its host loses power: the old primary diverged with commits. When the apply starts the
#    cluster there, Pacemaker's start attempt writes standby.signal before the agent sees PGSQL.lock. The
#    plan says what the rejoin discards (destructive); the apply keeps the WAL aside and rewinds
#    with pg_rewind, whose crash recovery (the node was not shut down) refuses standby.signal.
old=$(promoted node1)
write "$old"
on "$old" "pkill -STOP -u postgres -f 'walsender'"
for i in 1 2 3; do
  psql_on "$old" "-c \"insert into e2e select coalesce(max(id), 0) + 1, 'committed where no standby got it' from e2e\"" >/dev/null
done
[ "$(psql_on "$old" "-c 'select count(*) from e2e'")" = $((rows + 3)) ] || fail "the 3 rows are not on $old"
lose_power "$old"
echo "power-off of $old with 3 commits its standbys never got: $next promoted and holds the rw VIP after ${took}s"
repair "$old" "3 transactions committed on $old .* never reached $next and are discarded; its WAL is kept in"
on "$old" 'ls -d /var/lib/postgresql/15/pgha.pgha-wal-* >/dev/null' || fail "$old's WAL was not kept aside"
echo "$old rewound onto $next (pg_rewind after crash recovery); its WAL kept aside; the 3 commits no standby had are gone, as the plan said"
