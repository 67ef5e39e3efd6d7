#!/bin/bash
# Nodes added and removed by editing the spec, on a fresh 4-host bed: the 3-node spec applied,
# then node4 added (it is cloned from the primary and streams; every other node's /etc/hosts
# and pg_hba.conf list it; the primary's postmaster is not restarted), then node3 removed
# (crm_mon lists 3 nodes, node3's data directory is still there, plan exits 0). Removing the
# primary is refused, naming pgha switchover. Runs last: it leaves a 4-host bed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
inv=.testbed/inventory.yaml data=/var/lib/postgresql/15/pgha
scripts/testbed down > /dev/null 2>&1 || true
scripts/testbed up --nodes 4 > /tmp/pgha-e2e-nodes-bed.log 2>&1 || { tail -20 /tmp/pgha-e2e-nodes-bed.log; fail "testbed up"; }
# The specs the user would write: node4 appended (and named to the fence device), then node3 taken out.
python3 - <<'PY'
s = open("specs/testbed.yaml").read()
four = s.replace("  - name: node3\n    address: 10.77.0.13\n", "  - name: node3\n    address: 10.77.0.13\n  - name: node4\n    address: 10.77.0.14\n") \
        .replace("pcmk_host_list: node1 node2 node3", "pcmk_host_list: node1 node2 node3 node4")
assert four != s
open(".testbed/e2e-nodes-1234.yaml", "w").write(four)
open(".testbed/e2e-nodes-124.yaml", "w").write(four.replace("  - name: node3\n    address: 10.77.0.13\n", "").replace("node1 node2 node3 node4", "node1 node2 node4"))
# Without the primary (node1): refused.
open(".testbed/e2e-nodes-234.yaml", "w").write(four.replace("  - name: node1\n    address: 10.77.0.11\n", "").replace("primary: node1", "primary: node2"))
PY

start=$SECONDS
"$pgha" apply specs/testbed.yaml -i $inv --yes > /tmp/pgha-e2e-nodes.log 2>&1 || { tail -30 /tmp/pgha-e2e-nodes.log; fail "the 3-node apply"; }
echo "3-node cluster bootstrapped on the 4-host bed in $((SECONDS - start))s"
psql_on node1 "-c 'create table e2e_nodes(id int)' -c 'insert into e2e_nodes select generate_series(1, 1000)'" > /dev/null
pid=$(on node1 "head -1 $data/postmaster.pid")

echo "add node4"
set +e; "$pgha" plan .testbed/e2e-nodes-1234.yaml -i $inv > /tmp/pgha-e2e-nodes.plan 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || { cat /tmp/pgha-e2e-nodes.plan; fail "plan with node4 exited $rc, not 2"; }
grep -q "+ cluster-nodes .*add node4 to the cluster (pcs cluster node add node4 addr=10.77.0.14" /tmp/pgha-e2e-nodes.plan || { cat /tmp/pgha-e2e-nodes.plan; fail "the plan does not add node4"; }
grep -q "+ basebackup .*pg_basebackup from the current primary (rw VIP 10.77.0.100)" /tmp/pgha-e2e-nodes.plan || fail "node4 is not cloned from the current primary"
grep -q "resource pgsql node_list: node1 node2 node3 → node1 node2 node3 node4" /tmp/pgha-e2e-nodes.plan || fail "node_list does not grow"
start=$SECONDS
"$pgha" apply .testbed/e2e-nodes-1234.yaml -i $inv --yes > /tmp/pgha-e2e-nodes.log 2>&1 || { tail -30 /tmp/pgha-e2e-nodes.log; fail "adding node4"; }
echo "node4 added in $((SECONDS - start))s"
[ "$(on node1 "head -1 $data/postmaster.pid")" = "$pid" ] || fail "the primary's postmaster was restarted (PID $pid → $(on node1 "head -1 $data/postmaster.pid"))"
[ "$(psql_on node1 "-c \"select state from pg_stat_replication where application_name = 'node4'\"")" = streaming ] || fail "node4 does not stream from node1"
[ "$(psql_on node4 "-c 'select count(*) from e2e_nodes'")" = 1000 ] || fail "node4 does not have the rows"
for n in node1 node2 node3; do
  on $n "grep -q '^10.77.0.14 node4$' /etc/hosts" || fail "$n's /etc/hosts does not list node4"
  on $n "grep -q '10.77.0.14/32' $data/pg_hba.conf" || fail "$n's pg_hba.conf does not list node4"
done
psql_on node1 "-c \"select count(*) from pg_hba_file_rules where address = '10.77.0.14'\"" | grep -qx 2 || fail "node1's server did not reload pg_hba.conf"
"$pgha" status .testbed/e2e-nodes-1234.yaml -i $inv > /tmp/pgha-e2e-nodes.status || { cat /tmp/pgha-e2e-nodes.status; fail "status with node4 is not healthy"; }
head -1 /tmp/pgha-e2e-nodes.status
"$pgha" plan .testbed/e2e-nodes-1234.yaml -i $inv > /dev/null || fail "plan after adding node4 is not empty"
echo "node4 streams, listed in every node's /etc/hosts and pg_hba.conf; primary PID $pid unchanged; status 0, plan 0"

echo "removing the primary is refused"
set +e; "$pgha" plan .testbed/e2e-nodes-234.yaml -i $inv > /tmp/pgha-e2e-nodes.plan 2>&1; rc=$?; set -e
[ "$rc" = 1 ] || { cat /tmp/pgha-e2e-nodes.plan; fail "plan without the primary exited $rc, not 1"; }
grep -q "node1 is the primary now and is no longer in the spec.*pgha switchover" /tmp/pgha-e2e-nodes.plan || { cat /tmp/pgha-e2e-nodes.plan; fail "the refusal does not name switchover"; }

echo "remove node3"
set +e; "$pgha" plan .testbed/e2e-nodes-124.yaml -i $inv > /tmp/pgha-e2e-nodes.plan 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || { cat /tmp/pgha-e2e-nodes.plan; fail "plan without node3 exited $rc, not 2"; }
grep -q "\- cluster-nodes .*remove node3 from the cluster .*data directory $data is left in place" /tmp/pgha-e2e-nodes.plan || { cat /tmp/pgha-e2e-nodes.plan; fail "the plan does not remove node3"; }
start=$SECONDS
"$pgha" apply .testbed/e2e-nodes-124.yaml -i $inv --yes > /tmp/pgha-e2e-nodes.log 2>&1 || { tail -30 /tmp/pgha-e2e-nodes.log; fail "removing node3"; }
echo "node3 removed in $((SECONDS - start))s"
[ "$(on node1 'crm_mon -1 --output-as=xml' | grep -c '<node name=.* online="true"')" = 3 ] || fail "crm_mon does not list 3 online nodes"
on node1 "crm_mon -1 --output-as=xml" | grep -q '<node name="node3"' && fail "crm_mon still lists node3"
on node3 "test -f $data/PG_VERSION" || fail "node3's data directory is gone"
[ "$(on node1 "head -1 $data/postmaster.pid")" = "$pid" ] || fail "the primary's postmaster was restarted"
"$pgha" status .testbed/e2e-nodes-124.yaml -i $inv > /dev/null || fail "status without node3 is not healthy"
"$pgha" plan .testbed/e2e-nodes-124.yaml -i $inv > /dev/null || fail "plan after removing node3 is not empty"
echo "crm_mon lists node1 node2 node4; node3's data directory kept; primary PID unchanged; status 0, plan 0"
