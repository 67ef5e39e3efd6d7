#!/bin/bash
# Interruptions are safe to resume: `pgha apply` of bare hosts is stopped with SIGINT (Ctrl-C)
# or SIGKILL at five points — during a standby's pg_basebackup (the clone slowed to 8 Mbit/s
# with tc so there is a "during"), while the cluster starts, while the CIB is pushed, and at a
# seeded random moment — each on a fresh bed; then pg_basebackup itself is killed on a standby. After SIGINT no command of the run is left on
# any host; after SIGKILL the next apply takes over the dead run's lock and stops what it left.
# Each time a plain re-run converges: every standby streams, every data directory is there, a
# cut clone is moved aside (kept) and made again, and a third apply changes nothing.
#   PGHA_E2E_SEED=N   the seed of the random moment (default 22; printed)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
seed=${PGHA_E2E_SEED:-22}
RANDOM=$seed
random_delay=$((5 + RANDOM % 60))
echo "seed $seed: the random moment is ${random_delay}s into the apply"
data=/var/lib/postgresql/15/pgha
log=/tmp/pgha-e2e-interrupt.log

fresh_bed() {
  scripts/testbed down > /dev/null 2>&1 || true
  scripts/testbed up --nodes 3 > /tmp/pgha-e2e-interrupt-bed.log 2>&1 || { tail -20 /tmp/pgha-e2e-interrupt-bed.log; fail "testbed up"; }
}
slow_clones() { for v in pgha-v2 pgha-v3; do tc qdisc replace dev "$v" root tbf rate 8mbit burst 32kbit latency 400ms; done; }
fast_clones() { for v in pgha-v2 pgha-v3; do tc qdisc del dev "$v" root 2>/dev/null || true; done; }
trap fast_clones EXIT

# interrupt SIGNAL WHEN: starts apply on the fresh bed, sends SIGNAL when WHEN (a command) succeeds.
interrupt() {
  local signal=$1; shift
  "$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes > "$log" 2>&1 &
  local pid=$! start=$SECONDS
  until "$@" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { cat "$log"; fail "the apply ended before the moment to interrupt it ($*)"; }
    [ $((SECONDS - start)) -lt 240 ] || { kill -KILL $pid; fail "never reached: $*"; }
    sleep 0.2
  done
  kill -"$signal" $pid
  set +e; wait $pid; rc=$?; set -e
  echo "  $signal after $((SECONDS - start))s ($*): apply exited $rc"
  [ "$rc" != 0 ] || { cat "$log"; fail "an interrupted apply exited 0"; }
}
clone_running() { on "$1" "pgrep -x pg_basebackup" >/dev/null; }
printed() { grep -qE "$1" "$log"; }
after() { [ $((SECONDS - start_of_apply)) -ge "$1" ]; }

# resume KIND: a plain re-run converges; then the checks.
resume() {
  local kind=$1
  fast_clones
  if [ "$kind" = INT ]; then
    grep -q "Apply INTERRUPTED after" "$log" || { cat "$log"; fail "SIGINT: no interruption report"; }
    for n in node1 node2 node3; do
      left=$(on "$n" "ps -eo pid=,comm= | grep -wE 'pg_basebackup|initdb|pcs|chpasswd'; ls /run/pgha/*.pgids /run/pgha/apply.lock 2>/dev/null" || true)
      [ -z "$left" ] || fail "SIGINT: $n still has the run's commands or lock: $left"
    done
  fi
  "$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes > "$log.2" 2>&1 || { cat "$log" "$log.2"; fail "$kind: the re-run failed"; }
  if [ "$kind" = KILL ]; then
    grep -q "note: node[123]: took over the lock of run .* that process is gone" "$log.2" || { cat "$log.2"; fail "KILL: the re-run did not take over the dead run's lock"; }
  fi
  wait_for 30 "two standbys streaming" bash -c "[ \"\$(ssh -F .testbed/ssh_config node1 \"cd / && runuser -u postgres -- psql -X -At -c \\\"select count(*) from pg_stat_replication where state = 'streaming'\\\"\")\" = 2 ]"
  for n in node1 node2 node3; do on "$n" "[ -f $data/PG_VERSION ]" || fail "$kind: $n has no data directory"; done
  "$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes > "$log.3" 2>&1 || { cat "$log.3"; fail "$kind: the third apply failed"; }
  grep -q "^No changes" "$log.3" || { cat "$log.3"; fail "$kind: the third apply found changes"; }
}

echo "1. SIGINT while node2 clones"
fresh_bed; slow_clones
interrupt INT clone_running node2
grep -q "basebackup.*interrupted" "$log" || { cat "$log"; fail "the clone was not reported as interrupted"; }
resume INT
# pg_basebackup, stopped with TERM, removes what it copied itself; a copy left behind is kept aside.
if grep -qE "! node2 basebackup .*the clone pgha started in run .* did not finish: move the partial copy aside" "$log.2"; then
  on node2 "ls -d $data.pgha-old-*" > /dev/null || fail "the partial clone was not kept"
else
  grep -qE "\+ node2 basebackup .*pg_basebackup from node1" "$log.2" || { cat "$log.2"; fail "the cut clone was not made again"; }
fi

echo "2. SIGKILL while node3 clones"
fresh_bed; slow_clones
interrupt KILL clone_running node3
resume KILL

echo "3. SIGINT while the cluster starts"
fresh_bed
interrupt INT printed "node1 cluster-setup "
resume INT

echo "4. SIGKILL while the CIB is pushed"
fresh_bed
interrupt KILL printed "node1 cluster-start "
resume KILL

echo "5. SIGINT at the random moment"
fresh_bed
start_of_apply=$SECONDS
interrupt INT after "$random_delay"
resume INT

echo "6. pg_basebackup killed on node2 while it clones (pgha keeps running)"
fresh_bed; slow_clones
"$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes > "$log" 2>&1 &
pid=$!
wait_for 240 "node2 cloning" clone_running node2
on node2 "pkill -KILL -x pg_basebackup"
set +e; wait $pid; rc=$?; set -e
[ "$rc" = 1 ] || { cat "$log"; fail "apply with its clone killed exited $rc"; }
grep -qE "✗ node2 basebackup .*pg_basebackup from .* (failed|stopped without an exit status).*the partial copy is moved aside on the next apply" "$log" || { cat "$log"; fail "the killed clone is not reported"; }
resume FAILED
grep -qE "! node2 basebackup .*did not finish: move the partial copy aside" "$log.2" || { cat "$log.2"; fail "the cut clone was not made again"; }
on node2 "ls -d $data.pgha-old-*" > /dev/null || fail "the partial clone was not kept"
echo "five interruptions and a killed clone, each resumed by a plain re-run"
