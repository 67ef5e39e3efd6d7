export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
printf '\n%s %s\n' @@pgha-fact-6c9cea950faba4f22ca47ddb crm_mon
{ crm_mon -1 --output-as=xml --include=all 2>/dev/null ; } 2>/dev/null || true
printf '\n%s %s\n' @@pgha-fact-6c9cea950faba4f22ca47ddb node.server
{ [ -f /var/lib/postgresql/15/pgha/postmaster.pid ] && kill -0 "$(head -1 /var/lib/postgresql/15/pgha/postmaster.pid)" && (cd / && runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -X -At -p 5432 -c 'select '\''recovery='\'' || pg_is_in_recovery() union all select '\''lsn='\'' || case when pg_is_in_recovery() then coalesce(pg_last_wal_replay_lsn()::text, '\'''\'') else pg_current_wal_lsn()::text end union all select '\''timeline='\'' || case when pg_is_in_recovery() then coalesce((select received_tli from pg_stat_wal_receiver limit 1), (select timeline_id from pg_control_checkpoint())) else ('\''x'\'' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end union all select '\''receiver='\'' || status || '\'' '\'' || coalesce(sender_host, '\''-'\'') from pg_stat_wal_receiver union all select '\''replay_delay='\'' || coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp())::bigint::text, '\'''\'') where pg_is_in_recovery() union all select '\''standby='\'' || application_name || '\'' '\'' || state || '\'' '\'' || sync_state || '\'' '\'' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text, '\''-'\'') || '\'' '\'' || coalesce(round(extract(epoch from replay_lag)::numeric, 3)::text, '\''-'\'') from pg_stat_replication') ; } 2>/dev/null || true
printf '\n%s %s\n' @@pgha-fact-6c9cea950faba4f22ca47ddb node.controldata
{ [ -f /var/lib/postgresql/15/pgha/global/pg_control ] && (cd / && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_controldata -D /var/lib/postgresql/15/pgha) ; } 2>/dev/null || true
printf '\n%s %s\n' @@pgha-fact-6c9cea950faba4f22ca47ddb node.lock
{ if [ -L /var/lib/postgresql/15/pgsql-tmp/PGSQL.lock ]; then echo link; elif [ -e /var/lib/postgresql/15/pgsql-tmp/PGSQL.lock ]; then echo present; else echo absent; fi ; } 2>/dev/null || true
printf '\n%s %s\n' @@pgha-fact-6c9cea950faba4f22ca47ddb node.addresses
{ ip -o -4 addr show ; } 2>/dev/null || true
printf '\n%s %s\n' @@pgha-fact-6c9cea950faba4f22ca47ddb node.vip-answers
{ if /usr/lib/postgresql/15/bin/pg_isready -q -h 10.77.0.100 -p 5432 -t 2; then echo 10.77.0.100 yes; else echo 10.77.0.100 no; fi
if /usr/lib/postgresql/15/bin/pg_isready -q -h 10.77.0.101 -p 5432 -t 2; then echo 10.77.0.101 yes; else echo 10.77.0.101 no; fi ; } 2>/dev/null || true
