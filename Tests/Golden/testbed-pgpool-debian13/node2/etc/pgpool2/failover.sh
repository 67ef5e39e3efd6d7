#!/bin/bash
# failover_command of cluster pgha-pgpool13, written by pgha (after pgpool-II's failover.sh.sample).
# pgpool-II runs it as postgres on the watchdog leader when it detaches a backend:
#   failover.sh %d %h %p %D %m %H %M %P %r %R %N %S
# A failed standby needs nothing here. A failed primary: the new main node is promoted over SSH
# with pgha's key, the nodes' host keys pinned in /var/lib/postgresql/.ssh/pgha_known_hosts.
set -u
failed_id=$1 failed_host=$2 new_main_id=$5 new_main_host=$6 old_primary_id=$8
ssh_options=(-T -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/var/lib/postgresql/.ssh/pgha_known_hosts -o ConnectTimeout=5 -i /var/lib/postgresql/.ssh/id_pgha_pgpool)
log() { echo "failover.sh: $*" >&2; }

if [ "$new_main_id" -lt 0 ]; then
  log "no backend is left to promote (failed: $failed_host)"
  exit 0
fi
if [ "$old_primary_id" != -1 ] && [ "$failed_id" != "$old_primary_id" ]; then
  log "standby $failed_host (node $failed_id) is down; the primary stays"
  exit 0
fi
# The standby that received the most WAL is promoted (pgpool's choice, %m, is the next node id):
# the least that an asynchronous cluster can lose. pgpool finds the new primary by itself.
best=$new_main_host best_lsn=
for host in 10.77.0.11 10.77.0.12 10.77.0.13; do
  [ "$host" = "$failed_host" ] && continue
  lsn=$(ssh "${ssh_options[@]}" "postgres@$host" /usr/lib/postgresql/17/bin/psql -p 5432 -XAtqc "'select pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '\''0/0'\'')::bigint'" 2>/dev/null) || continue
  case $lsn in ''|*[!0-9]*) continue ;; esac
  if [ -z "$best_lsn" ] || [ "$lsn" -gt "$best_lsn" ]; then best=$host best_lsn=$lsn; fi
done
log "primary $failed_host (node $failed_id) is down: promoting $best (received WAL up to byte ${best_lsn:-unknown}; pgpool proposed $new_main_host)"
new_main_host=$best
if ! ssh "${ssh_options[@]}" "postgres@$new_main_host" /usr/lib/postgresql/17/bin/pg_ctl -D /var/lib/postgresql/17/pgha -w promote; then
  log "promoting $new_main_host failed"
  exit 1
fi
log "$new_main_host is the primary"
exit 0
