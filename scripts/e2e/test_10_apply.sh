#!/bin/bash
# pgha apply on bare test-bed hosts: the cluster of seeds 000/001 comes up, checked with the
# cluster's own tools; a second apply changes nothing; a primary killed or powered off is
# replaced by Pacemaker with no acknowledged row lost. Prints the time of each phase.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# A standby's data directory holds someone's files: apply refuses before touching any host.
data=/var/lib/postgresql/15/pgha
on node3 "mkdir -p $data && echo keep-me > $data/notes.txt"
# node2's holds another PostgreSQL cluster (initdb'd by hand): no clone of ours, never started as one.
on node2 "mkdir -p $data && chown postgres:postgres $data && cd / && runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D $data >/dev/null"
hosts_before=$(on node1 "sha256sum /etc/hosts")
set +e; out=$("$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes 2>&1); rc=$?; set -e
[ "$rc" = 1 ] || fail "apply over a non-empty data directory exited $rc: $out"
grep -q "^error: node3: basebackup: .*--rebuild node3" <<<"$out" || fail "the refusal does not name node3 and --rebuild: $out"
grep -q "^error: node2: basebackup: .*holds a PostgreSQL cluster that is not a finished clone.*--rebuild node2" <<<"$out" || fail "node2's foreign cluster is not refused naming --rebuild: $out"
grep -q "^Nothing was changed" <<<"$out" || fail "no 'Nothing was changed': $out"
[ "$hosts_before" = "$(on node1 "sha256sum /etc/hosts")" ] || fail "a refused apply changed node1"
echo "non-empty data directory on node3, another cluster's on node2: apply refused, naming each node and --rebuild; no host changed"

# Bootstrap from bare hosts; node3's directory is moved aside, not deleted.
start=$SECONDS
"$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes --rebuild node3 --rebuild node2 > /tmp/pgha-e2e-apply1.log 2>&1 \
  || { tail -30 /tmp/pgha-e2e-apply1.log; fail "bootstrap apply failed"; }
bootstrap=$((SECONDS - start))
grep -q "^Apply complete" /tmp/pgha-e2e-apply1.log || fail "no completion line"
grep -qE "^Time per phase: plan [0-9.]+ s, OS and packages .*, PostgreSQL and replication .*, Pacemaker .*, verify [0-9.]+ s" /tmp/pgha-e2e-apply1.log \
  || { tail -5 /tmp/pgha-e2e-apply1.log; fail "no time per phase"; }
# The first start used the first CIB's dc-deadtime (not Pacemaker's 20 s), and the property stays managed.
grep -q "^  + node2 first-cib .* dc-deadtime=5s" /tmp/pgha-e2e-apply1.log || fail "node2 got no first CIB"
[ "$(on node1 "crm_attribute --type crm_config --name dc-deadtime --query --quiet")" = 5s ] || fail "dc-deadtime is not 5s in the CIB"
[ "$(on node3 "cat $data.pgha-old-*/notes.txt")" = keep-me ] || fail "node3's old data directory was not kept"
on node2 "[ -f $data.pgha-old-*/PG_VERSION ] && [ -f $data/backup_manifest ]" || fail "node2's foreign cluster was not kept aside, or its clone is not a finished one"
grep -qE "^Cluster: primary node1 \(rw VIP 10.77.0.100\); standbys: node2 streaming async.*, node3 streaming async" /tmp/pgha-e2e-apply1.log \
  || { tail -3 /tmp/pgha-e2e-apply1.log; fail "no cluster status line after the bootstrap"; }
if grep -q -- "$PGHA_REPLICATION_PASSWORD\|$PGHA_HACLUSTER_PASSWORD" /tmp/pgha-e2e-apply1.log; then fail "a secret was printed"; fi

# The cluster's own view.
bootstrapped
# No secret in the CIB or in any process's argv.
if on node1 "cibadmin --query" | grep -q "$PGHA_REPLICATION_PASSWORD"; then fail "the replication password is in the CIB"; fi

# A row written through the rw VIP is read back through the ro VIP, by a password-checked role.
psql_on node1 "-c \"create role e2e_app login password 'e2e-app-pw'; create table e2e(id int primary key, note text); grant select, insert on e2e to e2e_app\""
app() { on "$1" "PGPASSWORD=e2e-app-pw psql -X -At -h $2 -U e2e_app -d postgres -c \"$3\""; }
app node3 10.77.0.100 "insert into e2e values (1, 'through the rw VIP')"
wait_for 30 "the row through the ro VIP" bash -c "[ \"\$(ssh -F .testbed/ssh_config node2 \"PGPASSWORD=e2e-app-pw psql -X -At -h 10.77.0.101 -U e2e_app -d postgres -c 'select note from e2e where id = 1'\")\" = 'through the rw VIP' ]"
[ "$(app node2 10.77.0.101 "select pg_is_in_recovery()")" = t ] || fail "the ro VIP does not lead to a standby"

# Re-apply: nothing to change, nothing changed on the hosts.
# (the CIB's epoch moves on its own: the pgsql agent keeps node attributes there; compare what pgha manages)
sum() { on "$1" "cat /etc/hosts /var/lib/postgresql/15/pgha/postgresql.conf /var/lib/postgresql/15/pgha/pg_hba.conf /var/lib/postgresql/.pgpass /etc/corosync/corosync.conf | sha256sum; for s in resources constraints crm_config rsc_defaults; do cibadmin --query --scope \$s; done | sha256sum"; }
before="$(sum node1)$(sum node2)$(sum node3)"
start=$SECONDS
"$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-apply2.log 2>&1 || { cat /tmp/pgha-e2e-apply2.log; fail "re-apply failed"; }
reapply=$((SECONDS - start))
grep -q "^No changes" /tmp/pgha-e2e-apply2.log || { cat /tmp/pgha-e2e-apply2.log; fail "re-apply wanted changes"; }
[ "$before" = "$(sum node1)$(sum node2)$(sum node3)" ] || fail "re-apply changed something on the hosts"
grep "^Time per phase" /tmp/pgha-e2e-apply1.log
echo "bootstrap ${bootstrap}s; no-op re-apply: $(grep -o 'in [0-9.]* s' /tmp/pgha-e2e-apply2.log)"
echo "rw VIP on node1, ro VIP on $ro (a standby); a row written through the rw VIP was read through the ro VIP"
