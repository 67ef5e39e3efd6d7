#!/bin/bash
# After test_10_apply: kill the primary's postmaster, then power off the new primary's host.
# Each time Pacemaker promotes a standby, the rw VIP follows, and the rows written are there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "$(promoted node1)" = node1 ] || fail "expects the cluster of test_10_apply with node1 promoted"
psql_on node1 "-c \"insert into e2e values (2, 'acknowledged before the kill')\""

# 1. kill -9 the primary's postmaster.
start=$SECONDS
on node1 'kill -9 $(head -1 /var/lib/postgresql/15/pgha/postmaster.pid)'
wait_for 90 "a standby promoted after the kill" standby_promoted node2 node2 node3
new=$(promoted node2)
case $new in node2|node3) ;; *) fail "promoted after the kill: '$new'" ;; esac
wait_for 60 "the rw VIP on $new" bash -c "ssh -F .testbed/ssh_config $new 'ip -4 addr show eth0' | grep -q 10.77.0.100/24"
kill_failover=$((SECONDS - start))
[ "$(psql_on "$new" "-c 'select count(*) from e2e'")" = 2 ] || fail "rows lost after the kill"
echo "kill -9 of node1's postmaster: $new promoted and holds the rw VIP after ${kill_failover}s; 2 rows present"

# 2. power the new primary's host off: it is fenced, the last standby is promoted. The agent
#    only promotes a standby it saw streaming, so first wait until the last one streams again.
other=$( [ "$new" = node2 ] && echo node3 || echo node2 )
wait_for 60 "$other streaming from $new" bash -c "ssh -F .testbed/ssh_config $other 'crm_mon -1 -A' | grep -A3 'Node: $other' | grep -q 'STREAMING|ASYNC'"
psql_on "$new" "-c \"insert into e2e values (3, 'acknowledged before the power-off')\""
start=$SECONDS
scripts/testbed poweroff "$new" 2>/dev/null
wait_for 120 "$other promoted after $new lost power" standby_promoted "$other" "$other"
wait_for 60 "the rw VIP on $other" bash -c "ssh -F .testbed/ssh_config $other 'ip -4 addr show eth0' | grep -q 10.77.0.100/24"
power_failover=$((SECONDS - start))
[ "$(psql_on "$other" "-c 'select count(*) from e2e'")" = 3 ] || fail "rows lost after the power-off"
echo "power-off of $new: $other promoted and holds the rw VIP after ${power_failover}s; 3 rows present"
