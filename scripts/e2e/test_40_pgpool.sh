#!/bin/bash
# Seed 004's design (topology pgpool) on 3 fresh hosts: pgha apply builds PostgreSQL with
# streaming replication and pgpool-II with its watchdog on every node; writes through the
# delegate VIP on pgpool's port land on the primary, reads are balanced over the standbys; a
# second apply changes nothing; no clear-text password is left on any host. Brings the test bed
# down and up itself (3 hosts) and leaves it up with this cluster on it.
#   PGHA_E2E_PGPOOL_OS=debian-13   the same on Debian 13 hosts (test_52: pgpool-II 4.6, PostgreSQL 17)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
os=${PGHA_E2E_PGPOOL_OS:-debian-12}
case $os in
  debian-12) pg=15 spec=specs/testbed-pgpool.yaml cluster=pgha-pgpool ;;
  debian-13) pg=17 spec=specs/testbed-pgpool-debian13.yaml cluster=pgha-pgpool13 ;;
  *) fail "test_40: no pgpool spec for $os" ;;
esac
data=/var/lib/postgresql/$pg/pgha
export PGHA_PCP_PASSWORD=${PGHA_PCP_PASSWORD:-e2e-pcp-$RANDOM$RANDOM}
export PGHA_PGPOOL_PASSWORD=${PGHA_PGPOOL_PASSWORD:-e2e-pgpool-$RANDOM$RANDOM}
export PGHA_APP_PASSWORD=${PGHA_APP_PASSWORD:-e2e-app-$RANDOM$RANDOM}
export PGHA_PGPOOL_KEY=${PGHA_PGPOOL_KEY:-e2e-key-$RANDOM$RANDOM}
vip=10.77.0.102

scripts/testbed down >/dev/null 2>&1 || true
scripts/testbed up --os "$os" --nodes 3 > /tmp/pgha-e2e-pgpool-up.log 2>&1 || { tail -20 /tmp/pgha-e2e-pgpool-up.log; fail "the $os test bed did not come up"; }

start=$SECONDS
"$pgha" apply $spec -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-pgpool1.log 2>&1 \
  || { tail -30 /tmp/pgha-e2e-pgpool1.log; fail "bootstrap apply failed"; }
bootstrap=$((SECONDS - start))
grep -q "^Apply complete" /tmp/pgha-e2e-pgpool1.log || fail "no completion line"
grep -qE "pgpool-II dialect 4\.[25]\+ names \(pgpool-II version 4\.[2-9]" /tmp/pgha-e2e-pgpool1.log || { head -3 /tmp/pgha-e2e-pgpool1.log; fail "the pgpool dialect was not detected"; }

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

# pgha status: pgpool's view, healthy (exit 0), node1 the primary; the JSON document says the same.
set +e; out=$("$pgha" status $spec -i inventory/testbed.yaml 2>&1); rc=$?; set -e
[ "$rc" = 0 ] || fail "status after the bootstrap exited $rc: $out"
grep -q "^$cluster (pgpool-II): healthy: pgpool on $vip (leader [a-z0-9]*), primary node1, 2 of 2 standbys up and streaming" <<<"$out" || fail "status: $out"
echo "$out" | sed -n 2,6p
"$pgha" status $spec -i inventory/testbed.yaml --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["topology"] == "pgpool" and d["health"] == "healthy" and d["primary"] == "node1" and d["vip_holder"] == d["leader"], d' \
  || fail "status --format json"

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
sum() { on "$1" "cat /etc/pgpool2/pgpool.conf /etc/pgpool2/pool_hba.conf /etc/pgpool2/pool_passwd /etc/pgpool2/pcp.conf $data/postgresql.conf /var/lib/postgresql/.ssh/authorized_keys | sha256sum; pgrep -o -x pgpool"; }
before="$(sum node1)$(sum node2)$(sum node3)"
"$pgha" apply $spec -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-pgpool2.log 2>&1 || { cat /tmp/pgha-e2e-pgpool2.log; fail "re-apply failed"; }
grep -q "^No changes" /tmp/pgha-e2e-pgpool2.log || { cat /tmp/pgha-e2e-pgpool2.log; fail "re-apply wanted changes"; }
[ "$before" = "$(sum node1)$(sum node2)$(sum node3)" ] || fail "re-apply changed something on the hosts (or restarted pgpool)"

# Drift: a reloadable setting edited and reloaded by hand on node2, a rule added to node3's
# pool_hba.conf: the plan shows both with their diffs and a reload; apply repairs them with a
# reload (pgpool not restarted: same pid), and pgpool runs with the spec's value again.
on node2 "sed -i 's/^health_check_period = 2$/health_check_period = 7/' /etc/pgpool2/pgpool.conf && systemctl reload pgpool2"
on node3 "echo 'host     all             all             0.0.0.0/0               trust' >> /etc/pgpool2/pool_hba.conf"
# pgpool show NAME lists NAME and its per-backend copies (item|value|description): the value of NAME.
# When pgpool does not answer: "no answer: " and psql's first line.
show() {
  local o
  o=$(on "$1" "cd / && runuser -u postgres -- psql -h $2 -p 9999 -U pgpool -d postgres -XAtw -c 'pgpool show $3' 2>&1") \
    || { echo "no answer: $(head -1 <<<"$o")"; return; }
  awk -F'|' -v k="$3" '$1 == k {print $2}' <<<"$o"
}
export -f show on
wait_for 20 "node2's pgpool to run with the edited period" bash -c '[ "$(show node2 10.77.0.12 health_check_period)" = 7 ]' 
pids="$(on node2 'pgrep -o -x pgpool') $(on node3 'pgrep -o -x pgpool')"
set +e; out=$("$pgha" plan $spec -i inventory/testbed.yaml 2>&1); rc=$?; set -e
[ "$rc" = 2 ] || fail "plan with pgpool drift exited $rc: $out"
grep -qE "^ +[-+] ?health_check_period = 7" <<<"$out" || fail "no diff line for health_check_period: $out"
grep -q "reload pgpool2: runs with another health_check_period (reloadable)" <<<"$out" || fail "no reload for node2: $out"
grep -qE "^ +[-+] ?host +all +all +0.0.0.0/0 +trust" <<<"$out" || fail "no diff line for pool_hba.conf: $out"
grep -q "reload pgpool2: pool_hba.conf changed (reloadable)" <<<"$out" || fail "no reload for node3: $out"
"$pgha" apply $spec -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-pgpool3.log 2>&1 || { cat /tmp/pgha-e2e-pgpool3.log; fail "drift repair failed"; }
[ "$pids" = "$(on node2 'pgrep -o -x pgpool') $(on node3 'pgrep -o -x pgpool')" ] || fail "pgpool was restarted, not reloaded"
# The value pgpool answers with must be the spec's at once; a connection pgpool refused (CI once
# saw a value other than 2 here, and 2 a second later: which, the message says) is asked again.
for try in 1 2 3 4 5 6; do v=$(show node2 10.77.0.12 health_check_period); [[ $v == "no answer: "* ]] || break; echo "    ($v)"; sleep 1; done
[ "$v" = 2 ] || { tail -25 /tmp/pgha-e2e-pgpool3.log; fail "node2's pgpool runs with health_check_period '$v' after the repair (asked again: $(show node2 10.77.0.12 health_check_period))"; }
on node3 "! grep -q 0.0.0.0/0 /etc/pgpool2/pool_hba.conf" || fail "node3's pool_hba.conf keeps the added rule"
set +e; out=$("$pgha" plan $spec -i inventory/testbed.yaml 2>&1); rc=$?; set -e
[ "$rc" = 0 ] || fail "plan after the repair exited $rc: $out"
echo "drift: health_check_period edited and reloaded on node2, a trust rule in node3's pool_hba.conf: shown, repaired with reloads (same pgpool pids), plan 0"

# A standby's postmaster killed: pgpool holds it down; status says so (exit 2); the plan starts it
# as a standby and attaches it again (nothing destructive); apply does; status healthy again.
on node3 "kill -9 \$(head -1 $data/postmaster.pid)"
wait_for 30 "pgpool to hold node3 down" bash -c "ssh -F .testbed/ssh_config node1 'runuser -u postgres -- pcp_node_info -w -a -h localhost -p 9898 -U pgha' | grep -q '^10.77.0.13 5432 3 '"
set +e; out=$("$pgha" status $spec -i inventory/testbed.yaml 2>&1); rc=$?; set -e
[ "$rc" = 2 ] || fail "status with a standby down exited $rc: $out"
grep -q "node3: pgpool holds it down while node1 is the primary" <<<"$out" || fail "status does not say node3 is down: $out"
set +e; out=$("$pgha" plan $spec -i inventory/testbed.yaml 2>&1); rc=$?; set -e
[ "$rc" = 2 ] || fail "plan with a standby down exited $rc: $out"
grep -qE "^  ~ pgpool-rejoin +start it as a standby of node1 \(it was a standby and is stopped\), wait until it streams, attach it \(pcp_attach_node -n 2\)" <<<"$out" || fail "the plan does not re-attach node3: $out"
! grep -q "^  !" <<<"$out" || fail "the plan for a stopped standby is destructive: $out"
start=$SECONDS
"$pgha" apply $spec -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-pgpool5.log 2>&1 || { tail -20 /tmp/pgha-e2e-pgpool5.log; fail "re-attaching node3 failed"; }
took=$((SECONDS - start))
set +e; out=$("$pgha" status $spec -i inventory/testbed.yaml 2>&1); rc=$?; set -e
[ "$rc" = 0 ] || fail "status after re-attaching node3 exited $rc: $out"
on node3 "ls -d $data.pgpool-* 2>/dev/null" && fail "node3's data directory was moved"
echo "standby node3 killed: status exit 2 (held down), apply started it and attached it in ${took}s, status healthy"

# A writer through the VIP (an insert started every 0.1 s, each logged with its start time on the
# host's clock, ok or fail), then a fault; prints how long writes failed.
writer() {  # writer NODE TAG: start it detached on NODE
  on "$1" "cat > /tmp/pgha-e2e-writer.sh" <<EOF
i=0
while [ -e /tmp/pgha-e2e-writer.run ]; do
  i=\$((i + 1)); id=\$(( $2 * 100000 + i ))
  s=\$(date +%s.%N)
  ( PGPASSWORD=\$(cat /tmp/pgha-e2e-app) timeout 5 psql -X -At -h $vip -p 9999 -U app -d postgres -c "insert into pool_e2e values (\$id, 'writer')" >/dev/null 2>&1 \
      && echo "\$s ok \$id" || echo "\$s fail \$id" ) >> /tmp/pgha-e2e-writer.log &
  sleep 0.1
done
wait
EOF
  on "$1" "rm -f /tmp/pgha-e2e-writer.log; touch /tmp/pgha-e2e-writer.run; setsid nohup bash /tmp/pgha-e2e-writer.sh >/dev/null 2>&1 < /dev/null &"
}
# outage NODE FAULT_TIME: stops NODE's writer; seconds from the fault to the start of the first
# acknowledged write started after the last failed one.
outage() {
  on "$1" "rm -f /tmp/pgha-e2e-writer.run; sleep 6; sort -n /tmp/pgha-e2e-writer.log" > /tmp/pgha-e2e-writer.log
  local lastfail
  lastfail=$(awk -v t="$2" '$1 >= t && $2 == "fail" {last = $1} END {printf "%.6f\n", last + 0}' /tmp/pgha-e2e-writer.log)
  awk -v t="$2" -v f="$lastfail" '$1 > f && $1 >= t && $2 == "ok" {printf "%.1f\n", $1 - t; exit}' /tmp/pgha-e2e-writer.log
}
# acknowledged_present PRIMARY MAX_MISSING: replication is asynchronous, so a commit acknowledged in
# the last instant before a kill -9 may never have left the old primary (the same holds for the
# Pacemaker topology's async drills); how many is printed, more than MAX_MISSING fails.
acknowledged_present() {
  awk '$2 == "ok" {print $3}' /tmp/pgha-e2e-writer.log | sort -u > /tmp/pgha-e2e-acked
  psql_on "$1" "-c \"select id from pool_e2e where note = 'writer'\"" | sort -u > /tmp/pgha-e2e-present
  missing=$(comm -23 /tmp/pgha-e2e-acked /tmp/pgha-e2e-present | wc -l)
  [ "$missing" -le "$2" ] || fail "$missing acknowledged rows are missing on $1: $(comm -23 /tmp/pgha-e2e-acked /tmp/pgha-e2e-present | head -5 | tr '\n' ' ')"
  echo "$(wc -l < /tmp/pgha-e2e-acked) acknowledged rows, $missing of them missing on $1"
}
pcp() { on "$1" "runuser -u postgres -- pcp_node_info -w -a -h localhost -p 9898 -U pgha"; }
vip_holders() { for n in node1 node2 node3; do if on $n "ip -4 addr show eth0" | grep -q "$vip/24"; then echo $n; fi; done; }

# kill -9 of the primary's postmaster: pgpool detaches it, failover.sh promotes a standby over
# SSH, follow_primary.sh re-points the other standby and attaches it again.
writer node3 1
sleep 3
fault=$(on node3 "date +%s.%N")
on node1 "kill -9 \$(head -1 $data/postmaster.pid)"
wait_for 60 "a new primary in pgpool" bash -c "ssh -F .testbed/ssh_config node3 'runuser -u postgres -- pcp_node_info -w -a -h localhost -p 9898 -U pgha' | grep -qE '^10.77.0.1[23] 5432 [12] .* primary primary'"
sleep 3
took=$(outage node3 "$fault")
[ -n "$took" ] || fail "no write succeeded after the primary was killed: $(tail -3 /tmp/pgha-e2e-writer.log)"
new=$(pcp node3 | awk '$7 == "primary" {print $1}')
case $new in 10.77.0.12) newnode=node2 other=node3 otherip=10.77.0.13 ;; 10.77.0.13) newnode=node3 other=node2 otherip=10.77.0.12 ;; *) fail "pgpool's primary is '$new'" ;; esac
acknowledged_present "$newnode" 1
wait_for 60 "$other attached and streaming from $newnode" bash -c "ssh -F .testbed/ssh_config node3 'runuser -u postgres -- pcp_node_info -w -a -h localhost -p 9898 -U pgha' | grep -qE '^$otherip 5432 [12] .* standby standby [0-9]+ streaming'"
on $other "cat $data/pgha-standby.conf" | grep -q "host=$new .*application_name=$other" || fail "$other's standby settings do not name $newnode"
echo "kill -9 of node1's postmaster: writes through the VIP back after ${took}s; $newnode promoted, $other follows it (attached, streaming)"
pcp node3 | grep -q "^10.77.0.11 5432 3 .* down" || fail "node1 is not down in pgpool: $(pcp node3)"

# The old primary: the plan shows its online recovery first (destructive: its data directory is
# moved aside, kept), apply runs pcp_recovery_node, every backend is up and streaming, plan exits 0.
set +e; out=$("$pgha" plan $spec -i inventory/testbed.yaml 2>&1); rc=$?; set -e
[ "$rc" = 2 ] || fail "plan after the failover exited $rc: $out"
grep -qE "^  ! pgpool-rejoin +pgpool-II holds it down and $newnode is the primary: online recovery \(pcp_recovery_node -n 0\)" <<<"$out" || fail "the plan does not show node1's online recovery: $out"
on node1 "! test -e $data/postmaster.pid || ! kill -0 \$(head -1 $data/postmaster.pid) 2>/dev/null" || fail "node1's PostgreSQL was started"
start=$SECONDS
"$pgha" apply $spec -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-pgpool4.log 2>&1 || { tail -20 /tmp/pgha-e2e-pgpool4.log; fail "the rejoin apply failed"; }
rejoin=$((SECONDS - start))
wait_for 60 "node1 up and streaming in pgpool" bash -c "ssh -F .testbed/ssh_config node3 'runuser -u postgres -- pcp_node_info -w -a -h localhost -p 9898 -U pgha' | grep -qE '^10.77.0.11 5432 [12] .* standby standby [0-9]+ streaming'"
[ "$(pcp node3 | grep -cE ' [12] [0-9.]+ (up|waiting) up ')" = 3 ] || fail "not every backend is up: $(pcp node3)"
on node1 "ls -d $data.pgpool-*" >/dev/null || fail "node1's old data directory was not kept"
set +e; out=$("$pgha" plan $spec -i inventory/testbed.yaml 2>&1); rc=$?; set -e
[ "$rc" = 0 ] || fail "plan after the rejoin exited $rc: $out"
set +e; out=$("$pgha" status $spec -i inventory/testbed.yaml 2>&1); rc=$?; set -e
[ "$rc" = 0 ] || fail "status after the rejoin exited $rc: $out"
grep -q "primary $newnode, 2 of 2 standbys up and streaming" <<<"$out" || fail "status after the rejoin: $out"
echo "node1 recovered online by pgha apply in ${rejoin}s (its old data directory kept); every backend up, plan 0, status healthy"

# pgpool stopped on the VIP holder: the watchdog moves the VIP, writes resume.
holder=$(vip_holders)
[ "$(echo "$holder" | wc -w)" = 1 ] || fail "the VIP is on '$holder'"
client=$(for n in node2 node3; do if [ $n != "$holder" ]; then echo $n; fi; done | head -1)
writer "$client" 2
sleep 3
fault=$(on "$client" "date +%s.%N")
on "$holder" "systemctl stop pgpool2"
wait_for 60 "the VIP on another node" bash -c "for n in node1 node2 node3; do [ \$n = $holder ] && continue; ssh -F .testbed/ssh_config \$n 'ip -4 addr show eth0' | grep -q '$vip/24' && exit 0; done; exit 1"
sleep 3
took=$(outage "$client" "$fault")
[ -n "$took" ] || fail "no write succeeded after pgpool stopped on $holder"
acknowledged_present "$newnode" 0
echo "pgpool stopped on the VIP holder $holder: the VIP moved to $(vip_holders), writes back after ${took}s"
on "$holder" "systemctl start pgpool2"

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
