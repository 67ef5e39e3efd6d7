#!/bin/bash
# Drift someone made by hand on the cluster of test_10_apply: plan shows each one (exit 2),
# apply repairs exactly that, and plan exits 0 afterwards. Each repair is checked on the host.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
plan() { set +e; out=$("$pgha" plan specs/testbed.yaml -i inventory/testbed.yaml 2>&1); rc=$?; set -e; }
apply() {
  "$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-drift.log 2>&1 \
    || { cat /tmp/pgha-e2e-drift.log; fail "apply failed"; }
}
expect() { grep -qE "$1" <<<"$out" || fail "the plan does not show $2: $out"; }
# cib_attr TYPE NAME: the live CIB's value of a cluster property (crm_config) or resource default (rsc_defaults).
cib_attr() { on node1 "crm_attribute --type $1 --name $2 --query --quiet"; }
# repaired WHAT: apply, then the plan finds nothing left to do.
repaired() { apply; plan; [ "$rc" = 0 ] || fail "plan after repairing $1 exited $rc: $out"; }
conf=/var/lib/postgresql/15/pgha/postgresql.conf hba=/var/lib/postgresql/15/pgha/pg_hba.conf
plan
[ "$rc" = 0 ] || fail "the cluster is not converged before the drift: $out"
primary=$(promoted node1)
primary_pid=$(on "$primary" "head -1 /var/lib/postgresql/15/pgha/postmaster.pid")

# 1. Files and services: a setting changed (and reloaded) on a standby, a pg_hba.conf line,
#    the /etc/hosts block, pcsd disabled, the hacluster password.
on node3 "sed -i 's/^max_wal_senders = .*/max_wal_senders = 10\nwork_mem = 32MB/' $conf && echo 'host all all 10.9.9.0/24 trust' >> $hba && cd / && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl reload -D /var/lib/postgresql/15/pgha >/dev/null"
on node2 "sed -i 's/^10.77.0.12 node2$/10.77.0.12 node2 oldname/' /etc/hosts"
on node1 "systemctl disable pcsd >/dev/null 2>&1; echo 'hacluster:changed-by-hand' | chpasswd"
wait_for 10 "work_mem reloaded on node3" bash -c "[ \"\$(ssh -F .testbed/ssh_config node3 \"cd / && runuser -u postgres -- psql -XAtc 'show work_mem'\")\" = 32MB ]"
plan
[ "$rc" = 2 ] || fail "plan with drift exited $rc: $out"
expect '^  ~ postgresql-conf .*reload PostgreSQL' "the postgresql.conf drift"
expect '^      -work_mem = 32MB' "the work_mem diff line"
expect '^  ~ pg-hba ' "the pg_hba.conf drift"
expect '^      -host all all 10.9.9.0/24 trust' "the pg_hba diff line"
expect '^  ~ hosts-file ' "the /etc/hosts drift"
expect '^      -10.77.0.12 node2 oldname' "the /etc/hosts diff line"
expect '^  ~ pcsd .*enable pcsd' "pcsd disabled"
expect '^  ~ hacluster-password ' "the hacluster password"
[ "$(grep -c '^  [~+!-] ' <<<"$out")" = 5 ] || fail "the plan shows more than the 5 drifts: $out"
apply
[ "$(psql_on node3 "-c 'show work_mem'")" = 4MB ] || fail "work_mem not back to 4MB on node3"
[ "$(psql_on node3 "-c \"select count(*) from pg_hba_file_rules where address = '10.9.9.0'\"")" = 0 ] || fail "pg_hba.conf not repaired"
on node2 "grep -q '^10.77.0.12 node2$' /etc/hosts" || fail "/etc/hosts block not repaired"
[ "$(on node1 "systemctl is-enabled pcsd")" = enabled ] || fail "pcsd not enabled again"
# The password is checked against the shadow hash (the password reaches python on stdin).
pw_ok() { printf '%s' "$2" | on "$1" "python3 -W ignore -c 'import crypt,sys; h=open(\"/etc/shadow\").read().split(\"hacluster:\")[1].split(\":\")[0]; sys.exit(crypt.crypt(sys.stdin.read(), h) != h)'"; }
pw_ok node1 changed-by-hand && fail "the hand-set hacluster password still works"
pw_ok node1 "$PGHA_HACLUSTER_PASSWORD" || fail "the hacluster password is not the spec's"
plan
[ "$rc" = 0 ] || fail "plan after the file repairs exited $rc: $out"
echo "postgresql.conf (reloaded), pg_hba.conf, /etc/hosts block, pcsd, hacluster password: shown, repaired, plan exits 0"

# 2. A setting only a restart applies, changed on a standby and put into effect by hand (restarted
#    through Pacemaker: a restart behind its back races with the agent's monitor): pgha writes the
#    file back, the reload leaves the setting pending, so it restarts that standby through
#    Pacemaker, and the standby streams again.
on node3 "echo 'shared_buffers = 48MB' >> $conf && pcs resource restart msPostgresql node3 --wait=120 >/dev/null 2>&1"
wait_for 90 "node3 running with shared_buffers 48MB" bash -c "[ \"\$(ssh -F .testbed/ssh_config node3 \"cd / && runuser -u postgres -- psql -XAtc 'show shared_buffers'\")\" = 48MB ]"
plan
expect '^  ~ postgresql-conf .*restart it \(through Pacemaker\) if shared_buffers' "a restart-only setting"
apply
[ "$(psql_on node3 "-c 'show shared_buffers'")" = 128MB ] || fail "shared_buffers not back after the restart"
wait_for 30 "node3 streaming" bash -c "[ \"\$(ssh -F .testbed/ssh_config node3 \"cd / && runuser -u postgres -- psql -XAtc 'select status from pg_stat_wal_receiver'\")\" = streaming ]"
plan
[ "$rc" = 0 ] || fail "plan after the restart exited $rc: $out"
[ "$(promoted node1)" = "$primary" ] || fail "the primary moved"
[ "$(on "$primary" "head -1 /var/lib/postgresql/15/pgha/postmaster.pid")" = "$primary_pid" ] || fail "the primary was restarted"
echo "shared_buffers on node3: standby restarted through Pacemaker, streams again; the primary was not touched"

# 3. The cluster configuration: a property, a resource default, the ro VIP deleted, an order
#    constraint removed, an operation timeout changed — shown one per line, repaired in one
#    diff-based push that restarts nothing that did not drift.
demote_order=$(on node1 "cibadmin --query --scope constraints" | python3 -c '
import sys, xml.etree.ElementTree as ET
for o in ET.parse(sys.stdin).getroot().iter("rsc_order"):
    if o.get("first-action") == "demote" and o.get("then") == "master-group": print(o.get("id"))')
[ -n "$demote_order" ] || fail "no demote order constraint for master-group"
on node1 "pcs property set no-quorum-policy=ignore && pcs resource defaults update resource-stickiness=100 >/dev/null && pcs resource delete vip-slave >/dev/null 2>&1 && pcs resource update pgsql op stop timeout=120s && pcs constraint delete $demote_order"
plan
[ "$rc" = 2 ] || fail "plan with CIB drift exited $rc: $out"
expect '^  ~ cib-push ' "the cluster configuration step"
expect '^      ~ property no-quorum-policy: ignore → stop' "the property"
expect '^      ~ resource default resource-stickiness: 100 → INFINITY' "the resource default"
expect '^      \+ resource vip-slave ' "the deleted ro VIP"
expect '^      ~ pgsql op stop: timeout 120s → 60s' "the operation timeout"
expect '^      \+ constraint order demote msPostgresql then stop master-group' "the removed constraint"
repaired "the cluster configuration"
[ "$(cib_attr crm_config no-quorum-policy)" = stop ] || fail "no-quorum-policy not repaired"
on node1 "cibadmin --query --scope constraints" | grep -q "id=\"$demote_order\"" || fail "constraint $demote_order not back"
on node1 "cibadmin --query --scope resources" | grep -o '<op [^>]*name="stop"[^>]*id="pgsql-stop[^>]*>' | grep -q 'timeout="60s"' \
  || fail "the stop timeout is not back to 60s"
ro=$(where node1 vip-slave)
case $ro in node2|node3) ;; *) fail "the ro VIP is on '$ro' after the repair" ;; esac
[ "$(promoted node1)" = "$primary" ] || fail "the primary moved"
[ "$(on "$primary" "head -1 /var/lib/postgresql/15/pgha/postmaster.pid")" = "$primary_pid" ] || fail "the primary was restarted by the CIB repair"
echo "property, resource default, ro VIP, constraint, op timeout: shown, repaired in one push; ro VIP back on $ro; the primary kept running"

# 4. Hostile values in the live CIB (issue 9): a property and a resource default written by hand
#    with quotes, backticks and $(…). pgha reads them as data: shown as drift, repaired, and no
#    payload runs on any host (plan and apply both run as root there).
on node1 bash -s <<'HOSTILE'
crm_attribute --type crm_config --name no-quorum-policy --update '$(touch /tmp/pgha-cib-canary-1)"`touch /tmp/pgha-cib-canary-2`'"'"'q'
crm_attribute --type rsc_defaults --name resource-stickiness --update 'x; touch /tmp/pgha-cib-canary-3; `touch /tmp/pgha-cib-canary-4` \'
HOSTILE
plan
[ "$rc" = 2 ] || fail "plan with hostile CIB values exited $rc: $out"
expect '^      ~ property no-quorum-policy: .*pgha-cib-canary-1.* → stop' "the hostile property, shown as data"
expect '^      ~ resource default resource-stickiness: .*pgha-cib-canary-3.* → INFINITY' "the hostile resource default, shown as data"
repaired "the hostile values"
[ "$(cib_attr crm_config no-quorum-policy)" = stop ] || fail "no-quorum-policy not repaired"
[ "$(cib_attr rsc_defaults resource-stickiness)" = INFINITY ] || fail "resource-stickiness not repaired"
for n in node1 node2 node3; do
  [ "$(on "$n" "ls /tmp/pgha-cib-canary-* 2>/dev/null | wc -l")" = 0 ] || fail "a payload from the CIB ran on $n"
done
! ls /tmp/pgha-cib-canary-* >/dev/null 2>&1 || fail "a payload from the CIB ran on this machine"
echo "CIB values with quotes, backticks and \$(…): shown as drift, repaired, no payload ran on any host"

# 3. The replication password rotated in the spec: every .pgpass and the role's password on the
#    primary follow; standbys cut off from the primary reconnect with the new one. Then back.
original=$PGHA_REPLICATION_PASSWORD
for pw in "rotated-$RANDOM$RANDOM" "$original"; do
  export PGHA_REPLICATION_PASSWORD=$pw
  plan
  [ "$rc" = 2 ] || fail "plan with another replication password exited $rc: $out"
  [ "$(grep -c '^  ~ pgpass ' <<<"$out")" = 3 ] || fail "the plan does not rewrite .pgpass on 3 nodes: $out"
  expect '^  ~ replication-password .*sensitive' "the replication role's password"
  [ "$(grep -c '^  [~+!-] ' <<<"$out")" = 4 ] || fail "the plan shows more than the password: $out"
  grep -qF -- "$pw" <<<"$out" && fail "the plan shows the password"
  repaired "the replication password"
  primary=$(promoted node1)
  psql_on "$primary" "-c 'select pg_terminate_backend(pid) from pg_stat_replication'" > /dev/null
  wait_for 30 "both standbys streaming again with the new password" bash -c \
    "[ \"\$(ssh -F .testbed/ssh_config $primary \"cd / && runuser -u postgres -- psql -XAtc \\\"select count(*) from pg_stat_replication where state = 'streaming'\\\"\")\" = 2 ]"
done
echo "replication password rotated and back: .pgpass on every node and the role on the primary, standbys reconnect; plan exits 0"
