#!/bin/bash
# failover_command of cluster pgha-pgpool, written by pgha (after pgpool-II's failover.sh.sample).
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
log "primary $failed_host (node $failed_id) is down: promoting $new_main_host (node $new_main_id)"
if ! ssh "${ssh_options[@]}" "postgres@$new_main_host" /usr/lib/postgresql/15/bin/pg_ctl -D /var/lib/postgresql/15/pgha -w promote; then
  log "promoting $new_main_host failed"
  exit 1
fi
log "$new_main_host is the primary"
exit 0
