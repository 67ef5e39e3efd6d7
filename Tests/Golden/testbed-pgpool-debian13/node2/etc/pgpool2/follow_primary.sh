#!/bin/bash
# follow_primary_command of cluster pgha-pgpool13, written by pgha (after pgpool-II's
# follow_primary.sh.sample). After a failover pgpool-II runs it as postgres once for each standby:
#   follow_primary.sh %d %h %p %D %m %H %M %P %r %R
# The standby is pointed at the new primary and restarted; when it cannot follow the new
# timeline it is rewound with pg_rewind from the new primary. Then it is attached to pgpool again.
set -u
node_id=$1 node_host=$2 new_primary_host=$6
ssh_options=(-T -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/var/lib/postgresql/.ssh/pgha_known_hosts -o ConnectTimeout=5 -i /var/lib/postgresql/.ssh/id_pgha_pgpool)
log() { echo "follow_primary.sh: $*" >&2; }
on_node() { ssh "${ssh_options[@]}" "postgres@$node_host" "$@"; }
on_primary() { ssh "${ssh_options[@]}" "postgres@$new_primary_host" "$@"; }
# ssh joins the words of a remote command: each argument with spaces is sent quoted ('…').
case $node_host in
  10.77.0.11) node_name=node1 ;;
  10.77.0.12) node_name=node2 ;;
  10.77.0.13) node_name=node3 ;;
  *) log "$node_host is no node of this cluster"; exit 1 ;;
esac

[ "$node_host" = "$new_primary_host" ] && exit 0
if ! on_node /usr/lib/postgresql/17/bin/pg_ctl -D /var/lib/postgresql/17/pgha status >/dev/null 2>&1; then
  log "$node_host: PostgreSQL is not running; pgha apply rejoins it"
  exit 0
fi
conninfo="host=$new_primary_host port=5432 user=repluser application_name=$node_name"
log "$node_host: following $new_primary_host"
on_node /etc/pgpool2/pgha-standby-conf "'$conninfo'" || { log "$node_host: writing the standby settings failed"; exit 1; }
on_node /usr/lib/postgresql/17/bin/pg_ctl -D /var/lib/postgresql/17/pgha -w -m fast stop || true
on_node /usr/lib/postgresql/17/bin/pg_ctl -D /var/lib/postgresql/17/pgha -w -l /var/lib/postgresql/pgha-pgpool.log start
streaming() {
  for _ in $(seq 1 20); do
    [ "$(on_node /usr/lib/postgresql/17/bin/psql -p 5432 -XAtqc "'select status from pg_stat_wal_receiver'" 2>/dev/null)" = streaming ] && return 0
    sleep 1
  done
  return 1
}
if ! streaming; then
  log "$node_host: does not stream from $new_primary_host; rewinding it"
  on_node /usr/lib/postgresql/17/bin/pg_ctl -D /var/lib/postgresql/17/pgha -w -m fast stop || true
  # pg_rewind reads the source's timeline from its control file: a checkpoint writes the new one.
  on_primary /usr/lib/postgresql/17/bin/psql -p 5432 -XAtqc CHECKPOINT >/dev/null || true
  on_node /usr/lib/postgresql/17/bin/pg_rewind -D /var/lib/postgresql/17/pgha "'--source-server=host=$new_primary_host port=5432 user=repluser dbname=postgres'" \
    || { log "$node_host: pg_rewind failed; pgha apply rejoins it"; exit 1; }
  on_node /etc/pgpool2/pgha-standby-conf "'$conninfo'" || exit 1
  on_node /usr/lib/postgresql/17/bin/pg_ctl -D /var/lib/postgresql/17/pgha -w -l /var/lib/postgresql/pgha-pgpool.log start || exit 1
  streaming || { log "$node_host: still not streaming; pgha apply rejoins it"; exit 1; }
fi
pcp_attach_node -w -h localhost -p 9898 -U pgha -n "$node_id" \
  || { log "attaching node $node_id failed"; exit 1; }
log "$node_host streams from $new_primary_host and is attached"
exit 0
