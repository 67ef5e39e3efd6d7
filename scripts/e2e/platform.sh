#!/bin/bash
# The Pacemaker topology on test-bed hosts of another Debian release (issue 15), from bare
# hosts: `scripts/e2e/platform.sh debian-13|debian-11`, run by test_50_debian13.sh and
# test_51_debian11.sh. Brings up a fresh 3-host bed of that release (its root built once with
# debootstrap and kept in .testbed/roots/), prints the versions found, then: apply converges,
# crm_mon shows the promoted instance and both VIPs, both standbys stream, a second plan exits 0,
# a pg_hba line and a Pacemaker property changed by hand are shown and repaired, kill -9 of the
# primary's postmaster ends with a promoted standby holding the rw VIP and every row present;
# then day two: status and plan name the failed node, apply rejoins it, and a one-round
# kill-postgres drill recovers, and a switchover brings the primary back to node1. Before the bootstrap, the rendered pcs resource commands run
# offline (`pcs -f`) on a host of the release: accepted, no deprecation warning. The plan names
# each host's versions. Leaves the bed down.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
os=$1
case $os in
  debian-13) pg=17 spec=specs/testbed-debian13.yaml ;;
  debian-11) pg=13 spec=specs/testbed-debian11.yaml ;;
  *) fail "platform.sh: unknown release $os" ;;
esac
inv=inventory/testbed.yaml data=/var/lib/postgresql/$pg/pgha
trap 'scripts/testbed down >/dev/null 2>&1 || true' EXIT
# After a failure: the cluster as each reachable node's Pacemaker sees it, and what the pgsql
# agent and the fencer logged lately.
on_fail() {
  for n in node1 node2 node3; do
    timeout 10 ssh -F .testbed/ssh_config -o ConnectTimeout=3 $n "echo \"== $n\"; crm_mon -1 -A -f -t 2>&1 | head -40; journalctl --since '-4min' --no-pager -o short-precise 2>/dev/null | grep -E 'pgsql|pacemaker-(controld|fenced|schedulerd)' | grep -vE 'debug|info: Forwarding' | tail -25" || echo "== $n: unreachable"
  done
}

start=$SECONDS
scripts/testbed down >/dev/null 2>&1 || true
scripts/testbed up --os "$os" --nodes 3 > /tmp/pgha-e2e-$os-up.log 2>&1 || { tail -20 /tmp/pgha-e2e-$os-up.log; fail "the $os bed did not come up"; }
cat ".testbed/roots/$os/.pgha-root"
echo "$os bed up in $((SECONDS - start))s; on node1: $(on node1 "pcs --version; pacemakerd --version | head -1; crm_mon --version | head -1 >/dev/null; dpkg-query -W -f='resource-agents \${Version}, ' resource-agents; /usr/lib/postgresql/$pg/bin/postgres --version" | tr '\n' ' ')"

# The rendered resource commands, run by this release's pcs against an empty CIB file.
"$pgha" render $spec --redact-secrets --out /tmp/pgha-e2e-$os-render >/dev/null
awk '/^pcs cluster cib-push/{exit} f; /^cp pgsql_cfg/{f=1}' /tmp/pgha-e2e-$os-render/cluster/pcs-resources.sh > /tmp/pgha-e2e-$os-pcs.sh
set +e
out=$(on node1 'd=$(mktemp -d) && cd "$d" && cibadmin --empty > pgsql_cfg && bash -e -s; rc=$?; rm -rf "$d"; exit $rc' < /tmp/pgha-e2e-$os-pcs.sh 2>&1); rc=$?
set -e
[ "$rc" = 0 ] || { printf '%s\n' "$out"; fail "pcs on $os refused a rendered resource command"; }
! grep -i "deprecat" <<<"$out" || fail "pcs on $os warns of deprecated syntax in the rendered commands"
echo "$os: pcs $(on node1 'pcs --version') took the $(grep -c '^pcs ' /tmp/pgha-e2e-$os-pcs.sh) rendered resource commands offline, no deprecation warning"
# The same for specs/testbed-app.yaml's application (issue 14: any resource, a group, location,
# colocation with the promoted clone, order after promotion) in this release's dialect.
dialect=$(on node1 'pcs --version' | cut -d. -f1,2)
"$pgha" render specs/testbed-app.yaml --pcs-dialect "$dialect" --redact-secrets --out /tmp/pgha-e2e-$os-render-app >/dev/null
awk '/^pcs cluster cib-push/{exit} f; /^cp pgsql_cfg/{f=1}' /tmp/pgha-e2e-$os-render-app/cluster/pcs-resources.sh > /tmp/pgha-e2e-$os-pcs-app.sh
set +e
out=$(on node1 'd=$(mktemp -d) && cd "$d" && cibadmin --empty > pgsql_cfg && bash -e -s; rc=$?; rm -rf "$d"; exit $rc' < /tmp/pgha-e2e-$os-pcs-app.sh 2>&1); rc=$?
set -e
[ "$rc" = 0 ] || { printf '%s\n' "$out"; fail "pcs on $os refused a rendered command of specs/testbed-app.yaml"; }
! grep -i "deprecat" <<<"$out" || fail "pcs on $os warns of deprecated syntax in specs/testbed-app.yaml's commands"
echo "$os: and the $(grep -c '^pcs ' /tmp/pgha-e2e-$os-pcs-app.sh) of specs/testbed-app.yaml in dialect $dialect (an application's resources, group, location, colocation, order)"

if [ "$os" = debian-13 ]; then
  # Debian 12's spec (PostgreSQL 15) on Debian 13 hosts: refused at plan time, saying what this release offers.
  exits 1 "plan of the Debian 12 spec on $os" "$pgha" plan specs/testbed.yaml -i $inv
  { grep -q "postgresql-15.*not offered by node1's package sources" <<<"$out" && grep -q "sources offer postgresql-17" <<<"$out"; } \
    || { printf '%s\n' "$out"; fail "the plan of a PostgreSQL 15 spec on $os does not say that $os has no postgresql-15"; }
  echo "$os: the Debian 12 spec (PostgreSQL 15) is refused at plan time: $(grep -m1 -o 'postgresql-15.*offer postgresql-17' <<<"$out")"
fi
exits 2 "plan on bare $os hosts" "$pgha" plan $spec -i $inv
grep -E "^Hosts: " <<<"$out" | grep -q "(node1, node2, node3)$" || { printf '%s\n' "$out" | head -3; fail "the plan does not name the hosts' versions"; }
grep -E "^Hosts: " <<<"$out"

start=$SECONDS
exits 0 "bootstrap apply on $os" "$pgha" apply $spec -i $inv --yes
bootstrap=$((SECONDS - start))
printf '%s\n' "$out" | head -1
printf '%s\n' "$out" | grep -E "^(Time per phase|Apply complete|Cluster:)"
[ "$(promoted node1)" = node1 ] || on node1 "crm_mon -1"
bootstrapped
exits 0 "plan after the bootstrap" "$pgha" plan $spec -i $inv
exits 0 "status after the bootstrap" "$pgha" status $spec -i $inv
printf '%s\n' "$out" | head -1
echo "$os: bootstrap ${bootstrap}s; node1 promoted, node2 and node3 streaming, rw VIP on node1, ro VIP on $ro; plan and status exit 0"

# Drift: a pg_hba.conf line on node2, a cluster property: shown, repaired, plan 0.
on node2 "echo 'host all all 10.9.9.0/24 trust' >> $data/pg_hba.conf"
on node1 "pcs property set no-quorum-policy=ignore"
exits 2 "plan with drift" "$pgha" plan $spec -i $inv
grep -q '^  ~ pg-hba ' <<<"$out" || { printf '%s\n' "$out"; fail "the pg_hba.conf drift is not shown"; }
grep -q '^      ~ property no-quorum-policy: ignore → stop' <<<"$out" || { printf '%s\n' "$out"; fail "the property drift is not shown"; }
exits 0 "apply repairing the drift" "$pgha" apply $spec -i $inv --yes
exits 0 "plan after the repair" "$pgha" plan $spec -i $inv
[ "$(on node1 "crm_attribute --type crm_config --name no-quorum-policy --query --quiet")" = stop ] || fail "no-quorum-policy not repaired"
echo "$os: a pg_hba.conf line and no-quorum-policy changed by hand: shown, repaired, plan exits 0"

# kill -9 of the primary's postmaster: a standby is promoted and holds the rw VIP; every row there.
psql_on node1 "-c \"create table e2e(id int primary key, note text); insert into e2e select g, 'before the kill' from generate_series(1, 100) g\"" >/dev/null
lsn=$(psql_on node1 "-c 'select pg_current_wal_lsn()'")
wait_for 30 "the standbys replayed the rows" bash -c "[ \"\$(ssh -F .testbed/ssh_config node1 \"cd / && runuser -u postgres -- psql -X -At -c \\\"select count(*) from pg_stat_replication where replay_lsn >= '$lsn'\\\"\")\" = 2 ]"
start=$SECONDS
on node1 "kill -9 \$(head -1 $data/postmaster.pid)"
wait_for 120 "a standby promoted after the kill" standby_promoted node2 node2 node3
new=$(promoted node2)
wait_for 60 "the rw VIP on $new" bash -c "ssh -F .testbed/ssh_config $new 'ip -4 addr show eth0' | grep -q 10.77.0.100/24"
[ "$(psql_on "$new" "-c 'select count(*) from e2e'")" = 100 ] || fail "rows missing on $new"
echo "$os: kill -9 of node1's postmaster: $new promoted, holds the rw VIP after $((SECONDS - start))s, all 100 rows there"

# Day two: status and plan name node1, apply rejoins it; then a one-round drill.
start=$SECONDS
exits 2 "status after the kill" "$pgha" status $spec -i $inv
grep -q "✗ node1: " <<<"$out" || { printf '%s\n' "$out"; fail "status does not name node1"; }
exits 2 "plan after the kill" "$pgha" plan $spec -i $inv
grep -qE "^  [~!] rejoin +node1 " <<<"$out" || { printf '%s\n' "$out"; fail "the plan has no rejoin of node1"; }
exits 0 "apply rejoining node1" "$pgha" apply $spec -i $inv --yes
exits 0 "status after the rejoin" "$pgha" status $spec -i $inv
exits 0 "plan after the rejoin" "$pgha" plan $spec -i $inv
[ "$(psql_on node1 "-c 'select count(*) from e2e'")" = 100 ] || fail "node1 does not have the 100 rows after its rejoin"
echo "$os: node1 rejoined as a standby of $new in $((SECONDS - start))s (status 2, plan, apply, status 0, plan 0)"
exits 0 "drill kill-postgres" "$pgha" drill $spec -i $inv --fault kill-postgres --rounds 1 --yes
grep -E "^(  round |  1 |Summary)" <<<"$out"
exits 0 "status after the drill" "$pgha" status $spec -i $inv
echo "$os: a one-round kill-postgres drill recovered; status healthy"
if [ "$(promoted node2)" != node1 ]; then
  exits 0 "switchover to node1" "$pgha" switchover $spec -i $inv --to node1 --yes
  grep -E "^Switchover complete" <<<"$out"
  [ "$(promoted node2)" = node1 ] || fail "node1 is not promoted after the switchover"
  exits 0 "plan after the switchover" "$pgha" plan $spec -i $inv
fi
# The cluster as Pacemaker $os reports it (recorded for the unit tests: Tests/Fixtures/crm_mon/).
on node1 "crm_mon -1 --output-as=xml" > /tmp/pgha-e2e-$os-crm_mon.xml
