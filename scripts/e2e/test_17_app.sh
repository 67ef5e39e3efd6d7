#!/bin/bash
# Issue 14 (seeds 002/003), on the shared cluster of test_10 after test_16: specs/testbed-app.yaml
# adds an application to it — a python3 HTTP server (ocf:heartbeat:anything) and its own virtual
# IP in one group, colocated with the primary, started after promotion, preferring node2 by 50.
# A misspelt parameter or agent is refused at plan time, naming the spec key. The plan shows exactly those objects and nothing of pgha's own; apply adds them in one push
# without restarting PostgreSQL; the server answers on its address; a second plan exits 0. A
# parameter changed by hand is shown and repaired; a resource someone added by hand and their
# `pcs resource ban` stay untouched. kill -9 of the primary's postmaster: the group follows the
# new primary; apply rejoins the old one, a switchover brings the primary back to node1 and the
# group with it. Then the application is removed by hand and the plain spec's plan exits 0, as
# the next tests expect.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
spec=specs/testbed-app.yaml inv=inventory/testbed.yaml
"$pgha" status specs/testbed.yaml -i $inv >/dev/null || fail "expects a healthy cluster"
[ "$(promoted node1)" = node1 ] || fail "expects node1 promoted"
on_fail() { on node1 "crm_mon -1 -r 2>&1 | tail -25; pcs constraint 2>&1 | tail -20"; }
pgpid() { on "$1" "head -1 /var/lib/postgresql/15/pgha/postmaster.pid"; }
# Where crm_mon runs NAME (Started), from node3.
runs() { where node3 "$1"; }
answers() { on node3 "python3 -c 'import urllib.request; urllib.request.urlopen(\"http://10.77.0.110:8080/\", timeout=2)'" >/dev/null 2>&1; }
export -f on where roles answers runs

# The agents are checked on the hosts at plan time: a parameter the agent lacks and an agent no
# node has are refused, naming the spec key; nothing is changed.
sed -e 's/        binfile:/        bin_file:/' -e 's/agent: ocf:heartbeat:IPaddr2$/agent: ocf:heartbeat:IPaddr3/' $spec > /tmp/pgha-e2e-app-typo.yaml
exits 1 "plan with a misspelt parameter and agent" "$pgha" plan /tmp/pgha-e2e-app-typo.yaml -i $inv
grep -qF "pacemaker.resources[1].params.bin_file: ocf:heartbeat:anything on node1 has no parameter 'bin_file'; did you mean 'binfile'?" <<<"$out" \
  || { printf '%s\n' "$out"; fail "the misspelt parameter is not named"; }
grep -qF "ocf:heartbeat:IPaddr3 (pacemaker.resources[0] app-vip) is not installed on node2" <<<"$out" \
  || { printf '%s\n' "$out"; fail "the missing agent is not named"; }
echo "plan refuses a parameter anything lacks (did you mean 'binfile'?) and an agent no node has (IPaddr3)"

# Someone's own resource, not in any spec: pgha leaves it alone.
on node1 "pcs resource create foreign-dummy ocf:heartbeat:Dummy --wait=30" >/dev/null 2>&1 || fail "pcs resource create foreign-dummy"
exits 2 "plan adding the application" "$pgha" plan $spec -i $inv
printf '%s\n' "$out" | grep -E "^ +[-+~] " > /tmp/pgha-e2e-app-plan.txt || true
for line in "+ resource app-vip (ocf:heartbeat:IPaddr2 ip=10.77.0.110 nic=eth0 cidr_netmask=24)" \
            "+ group app-group (app-vip app-http)" \
            "+ constraint colocation app-group with Promoted msPostgresql INFINITY" \
            "+ constraint order promote msPostgresql then start app-group kind=Mandatory" \
            "+ constraint location app-group prefers node2=50"; do
  grep -qF -- "$line" /tmp/pgha-e2e-app-plan.txt || { printf '%s\n' "$out"; fail "the plan does not show: $line"; }
done
! grep -E "pgsql|msPostgresql notify|vip-master|foreign-dummy" /tmp/pgha-e2e-app-plan.txt | grep -v "app-group" \
  || { printf '%s\n' "$out"; fail "the plan touches pgha's own objects or the foreign resource"; }
echo "plan: $(wc -l < /tmp/pgha-e2e-app-plan.txt) lines, the application's objects only"

pid=$(pgpid node1)
start=$SECONDS
exits 0 "apply adding the application" "$pgha" apply $spec -i $inv --yes
wait_for 60 "app-http started on node1" bash -c '[ "$(runs app-http)" = node1 ]'
wait_for 30 "the HTTP server on 10.77.0.110:8080" answers
[ "$(pgpid node1)" = "$pid" ] || fail "PostgreSQL on node1 was restarted"
[ "$(runs foreign-dummy)" != "" ] || fail "the foreign resource is not running"
exits 0 "plan after adding the application" "$pgha" plan $spec -i $inv
echo "application added in $((SECONDS - start))s: app-group on node1, the server answers, PostgreSQL not restarted, plan 0"

# Drift: the server's command line changed by hand, and an operator's ban of the group from node3.
on node1 "pcs resource update app-http cmdline_options='-m http.server 9090 --bind 10.77.0.110'"
on node1 "pcs resource ban app-group node3" >/dev/null 2>&1
exits 2 "plan with the application drifted" "$pgha" plan $spec -i $inv
grep -qF "~ resource app-http cmdline_options: -m http.server 9090 --bind 10.77.0.110 → -m http.server 8080" <<<"$out" \
  || { printf '%s\n' "$out"; fail "the drift of app-http is not shown"; }
! grep -q "cli-ban" <<<"$out" || { printf '%s\n' "$out"; fail "the operator's ban is taken for drift"; }
exits 0 "apply repairing the application" "$pgha" apply $spec -i $inv --yes
wait_for 30 "the HTTP server on port 8080 again" answers
[ "$(pgpid node1)" = "$pid" ] || fail "PostgreSQL on node1 was restarted by the repair"
on node1 "cibadmin --query --scope constraints" | grep -q 'id="cli-ban-app-group-on-node3"' || fail "the operator's ban is gone"
on node1 "pcs resource clear app-group" >/dev/null 2>&1
exits 0 "plan after the repair" "$pgha" plan $spec -i $inv
echo "drift: app-http's command line changed by hand: shown, repaired (PostgreSQL not restarted); the operator's ban kept"

# Failover: the group follows the new primary.
start=$SECONDS
on node1 "kill -9 \$(head -1 /var/lib/postgresql/15/pgha/postmaster.pid)"
wait_for 120 "a standby promoted" standby_promoted node2 node2 node3
new=$(promoted node2)
wait_for 60 "app-http on $new" bash -c "[ \"\$(runs app-http)\" = $new ]"
wait_for 30 "the HTTP server on $new" answers
echo "kill -9 of node1's postmaster: $new promoted, the application runs there and answers after $((SECONDS - start))s"

exits 0 "apply rejoining node1" "$pgha" apply $spec -i $inv --yes
exits 0 "switchover back to node1" "$pgha" switchover $spec -i $inv --to node1 --yes
wait_for 60 "app-http back on node1" bash -c '[ "$(runs app-http)" = node1 ]'
wait_for 30 "the HTTP server on node1" answers
exits 0 "status after the switchover" "$pgha" status $spec -i $inv
exits 0 "plan after the switchover" "$pgha" plan $spec -i $inv
[ "$(runs foreign-dummy)" != "" ] || fail "the foreign resource is not running"
echo "node1 rejoined, switched back: the application followed to node1; status and plan 0; the foreign resource untouched"

# Leave the cluster as test_10 made it.
on node1 "pcs resource delete app-group && pcs resource delete foreign-dummy && crm_resource --wait --timeout=60" >/dev/null 2>&1 \
  || fail "removing the application by hand"
exits 0 "plan of specs/testbed.yaml after removing the application" "$pgha" plan specs/testbed.yaml -i $inv
