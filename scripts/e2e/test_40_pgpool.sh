#!/bin/bash
# Seed 004's design (topology pgpool) on 3 fresh hosts: pgha apply builds PostgreSQL with
# streaming replication and pgpool-II with its watchdog on every node; writes through the
# delegate VIP on pgpool's port land on the primary, reads are balanced over the standbys; a
# second apply changes nothing; no clear-text password is left on any host. Brings the test bed
# down and up itself (3 hosts) and leaves it up with this cluster on it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
export PGHA_PCP_PASSWORD=${PGHA_PCP_PASSWORD:-e2e-pcp-$RANDOM$RANDOM}
export PGHA_PGPOOL_PASSWORD=${PGHA_PGPOOL_PASSWORD:-e2e-pgpool-$RANDOM$RANDOM}
export PGHA_APP_PASSWORD=${PGHA_APP_PASSWORD:-e2e-app-$RANDOM$RANDOM}
export PGHA_PGPOOL_KEY=${PGHA_PGPOOL_KEY:-e2e-key-$RANDOM$RANDOM}
spec=specs/testbed-pgpool.yaml
vip=10.77.0.102

scripts/testbed down >/dev/null 2>&1 || true
scripts/testbed up --nodes 3 >/dev/null 2>&1 || fail "the test bed did not come up"

start=$SECONDS
"$pgha" apply $spec -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-pgpool1.log 2>&1 \
  || { tail -30 /tmp/pgha-e2e-pgpool1.log; fail "bootstrap apply failed"; }
bootstrap=$((SECONDS - start))
grep -q "^Apply complete" /tmp/pgha-e2e-pgpool1.log || fail "no completion line"
grep -q "pgpool-II dialect 4.2+ names (pgpool-II version 4.3" /tmp/pgha-e2e-pgpool1.log || { head -3 /tmp/pgha-e2e-pgpool1.log; fail "the pgpool dialect was not detected"; }

# pgpool's own view: 3 backends up, node1 the primary, a watchdog leader holding the VIP.
holders=$(for n in node1 node2 node3; do if on $n "ip -4 addr show eth0" | grep -q "$vip/24"; then echo $n; fi; done)
[ "$(echo "$holders" | wc -w)" = 1 ] || fail "the delegate VIP is on '$holders', not exactly one node"
app() { on "$1" "PGPASSWORD=\$(cat /tmp/pgha-e2e-app) psql -X -At -h $vip -p 9999 -U app -d postgres -c \"$2\""; }
for n in node1 node2 node3; do on $n "umask 077; cat > /tmp/pgha-e2e-app" <<<"$PGHA_APP_PASSWORD"; done
nodes=$(app node3 "show pool_nodes" | awk -F'|' '{print $2, $3, $4, $7}')
[ "$(echo "$nodes" | grep -c ' up ')" = 3 ] || fail "pgpool does not see 3 backends up: $nodes"
echo "$nodes" | grep -q "^10.77.0.11 5432 up primary" || fail "node1 is not pgpool's primary: $nodes"
on "$holders" "runuser -u postgres -- pcp_watchdog_info -w -h localhost -p 9898 -U pgha" > /tmp/pgha-e2e-wd.txt \
  || fail "pcp_watchdog_info failed on the leader"
head -1 /tmp/pgha-e2e-wd.txt | grep -q "^3 3 YES" || fail "the watchdog does not see 3 nodes with a quorum: $(head -1 /tmp/pgha-e2e-wd.txt)"

# Writes through the VIP land on the primary; reads are load balanced to the standbys.
psql_on node1 "-c \"create table pool_e2e(id int primary key, note text); grant select, insert on pool_e2e to app\""
app node2 "insert into pool_e2e values (1, 'through the delegate VIP')"
[ "$(psql_on node1 "-c \"select note from pool_e2e where id = 1\"")" = "through the delegate VIP" ] || fail "the write did not land on node1"
wait_for 30 "the row on node3" bash -c "[ \"\$(ssh -F .testbed/ssh_config node3 \"cd / && runuser -u postgres -- psql -X -At -c 'select count(*) from pool_e2e'\")\" = 1 ]"
before=$(app node3 "show pool_nodes" | awk -F'|' 'NR > 1 {s += $9} END {print s + 0}')
for i in $(seq 1 30); do app node3 "select note from pool_e2e where id = 1" >/dev/null; done
after=$(app node3 "show pool_nodes" | awk -F'|' 'NR > 1 {s += $9} END {print s + 0}')
[ "$after" -gt "$before" ] || fail "no select went to a standby (standbys' select_cnt $before → $after)"
echo "30 reads through the VIP: standbys' select_cnt $before → $after"

# Re-apply: nothing to change, nothing changed.
sum() { on "$1" "cat /etc/pgpool2/pgpool.conf /etc/pgpool2/pool_hba.conf /etc/pgpool2/pool_passwd /etc/pgpool2/pcp.conf /var/lib/postgresql/15/pgha/postgresql.conf /var/lib/postgresql/.ssh/authorized_keys | sha256sum; pgrep -o -x pgpool"; }
before="$(sum node1)$(sum node2)$(sum node3)"
"$pgha" apply $spec -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-pgpool2.log 2>&1 || { cat /tmp/pgha-e2e-pgpool2.log; fail "re-apply failed"; }
grep -q "^No changes" /tmp/pgha-e2e-pgpool2.log || { cat /tmp/pgha-e2e-pgpool2.log; fail "re-apply wanted changes"; }
[ "$before" = "$(sum node1)$(sum node2)$(sum node3)" ] || fail "re-apply changed something on the hosts (or restarted pgpool)"

# No clear-text secret on any host outside the 0600 files made to hold one (.pgpass, .pcppass,
# .pgpoolkey of the PostgreSQL user), nor in any process's command line.
for n in node1 node2 node3; do
  for secret in "$PGHA_REPLICATION_PASSWORD" "$PGHA_PCP_PASSWORD" "$PGHA_PGPOOL_PASSWORD" "$PGHA_APP_PASSWORD" "$PGHA_PGPOOL_KEY"; do
    found=$(on $n "grep -rlF -- '$secret' /etc /var/log /var/lib/postgresql /run/testbed-units /var/log/testbed-units 2>/dev/null | grep -vxE '/var/lib/postgresql/\.(pgpass|pcppass|pgpoolkey)' || true")
    [ -z "$found" ] || fail "$n: a secret in clear text in $found"
    if on $n "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' '" | grep -qF -- "$secret"; then fail "$n: a secret in a command line"; fi
  done
done
if grep -qF -e "$PGHA_PCP_PASSWORD" -e "$PGHA_PGPOOL_PASSWORD" -e "$PGHA_APP_PASSWORD" -e "$PGHA_PGPOOL_KEY" /tmp/pgha-e2e-pgpool1.log; then fail "a secret was printed"; fi
grep "^Time per phase" /tmp/pgha-e2e-pgpool1.log
echo "bootstrap ${bootstrap}s; no-op re-apply: $(grep -o 'in [0-9.]* s' /tmp/pgha-e2e-pgpool2.log); VIP on $holders"
