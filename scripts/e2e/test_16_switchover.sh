#!/bin/bash
# After test_15 (the shared, healthy cluster of test_10): `pgha switchover --to` another node and back,
# while a writer on node3 inserts through the rw VIP. Every acknowledged row is there
# afterwards, no cli-ban/cli-prefer constraint is left, the old primary streams again without
# a rebuild, and pgha status exits 0. Also: refused when the target is the primary.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
spec=specs/testbed.yaml inv=inventory/testbed.yaml
"$pgha" status $spec -i $inv >/dev/null || fail "expects a healthy cluster"
first=$(promoted node1)
target=$( [ "$first" = node2 ] && echo node1 || echo node2 )
psql_on "$first" "-c 'create table e2e_sw(id int primary key)' -c 'grant insert, select on e2e_sw to e2e_app'" >/dev/null

# The writer: one insert per 0.1 s through the rw VIP; the ids acknowledged go to a file on node3.
on node3 'rm -f /tmp/e2e-acked /tmp/e2e-stop; (i=0; until [ -e /tmp/e2e-stop ]; do i=$((i+1)); PGPASSWORD=e2e-app-pw psql -X -At -h 10.77.0.100 -U e2e_app -d "dbname=postgres connect_timeout=1" -c "insert into e2e_sw values ($i)" >/dev/null 2>&1 && echo $i >> /tmp/e2e-acked; sleep 0.1; done) > /dev/null 2>&1 < /dev/null &'
sleep 2

set +e; same=$("$pgha" switchover $spec -i $inv --to "$first" --yes 2>&1); rc=$?; set -e
[ "$rc" = 1 ] && grep -q "is the primary already" <<<"$same" || { echo "$same"; fail "a switchover to the primary was not refused"; }

for to in "$target" "$first"; do
  start=$SECONDS
  "$pgha" switchover $spec -i $inv --to "$to" --yes > /tmp/pgha-e2e-switchover.log 2>&1 || { cat /tmp/pgha-e2e-switchover.log; fail "switchover to $to"; }
  tail -1 /tmp/pgha-e2e-switchover.log
  [ "$(promoted node3)" = "$to" ] || fail "$to is not promoted after its switchover"
  [ "$(on node3 'cibadmin --query --scope constraints' | grep -c 'cli-')" = 0 ] || fail "a cli- constraint was left behind"
  "$pgha" status $spec -i $inv >/dev/null || fail "status after the switchover to $to is not healthy"
  echo "switchover to $to: $((SECONDS - start))s, healthy, no constraint left"
  if [ "$to" != node1 ]; then
    # The spec still names node1 as cluster.primary: the plan says so and moves nothing.
    set +e; out=$("$pgha" plan $spec -i $inv 2>&1); rc=$?; set -e
    [ "$rc" = 0 ] || { echo "$out"; fail "plan after the switchover to $to exited $rc"; }
    grep -q "^Note: cluster.primary is node1, but $to is the primary now.*pgha switchover" <<<"$out" || { echo "$out"; fail "the plan does not note that cluster.primary is not the primary"; }
  fi
done
sleep 2
on node3 'touch /tmp/e2e-stop'; sleep 1
acked=$(on node3 'wc -l < /tmp/e2e-acked')
missing=$(on node3 'cat /tmp/e2e-acked' | python3 -c '
import sys, subprocess
acked = [int(x) for x in sys.stdin.read().split()]
present = set(int(x) for x in subprocess.run(["ssh", "-F", ".testbed/ssh_config", sys.argv[1], "cd / && runuser -u postgres -- psql -X -At -c \"select id from e2e_sw\""], capture_output=True, text=True).stdout.split())
print(len([a for a in acked if a not in present]))' "$first")
[ "$missing" = 0 ] || fail "$missing of $acked acknowledged rows are missing"
[ "$acked" -gt 20 ] || fail "the writer acknowledged only $acked rows"
"$pgha" plan $spec -i $inv >/dev/null || fail "plan after the switchovers is not empty"
echo "writer: $acked rows acknowledged through the rw VIP during two switchovers, all present; plan and status clean"
