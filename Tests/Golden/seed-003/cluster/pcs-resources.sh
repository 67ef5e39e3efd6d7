#!/bin/bash
# Cluster mycluster: resources, groups and constraints (pcs 0.12 dialect),
# built offline in a CIB file and pushed once, as seed 000's cluster_setup.sh does.
set -euo pipefail
workdir=$(mktemp -d /tmp/pgha-cib.XXXXXX)
trap 'rm -rf "$workdir"' EXIT
cd "$workdir"
pcs cluster cib pgsql_cfg
cp pgsql_cfg pgsql_cfg.orig
pcs -f pgsql_cfg property set dc-deadtime=5s
pcs -f pgsql_cfg resource defaults update resource-stickiness=INFINITY
pcs -f pgsql_cfg resource defaults update migration-threshold=1
pcs -f pgsql_cfg stonith create fence-ipmi fence_ipmilan \
    ip=192.168.1.200 \
    username=admin \
    password_script=/etc/pgha/ipmi-password \
    pcmk_host_map='node1:1;node2:2;node3:3'
pcs -f pgsql_cfg resource create vip-master ocf:heartbeat:IPaddr2 \
    ip=192.168.1.120 \
    nic=eth0 \
    cidr_netmask=24 \
    op start timeout=60s interval=0s on-fail=restart \
    op monitor timeout=60s interval=10s on-fail=restart \
    op stop timeout=60s interval=0s on-fail=block
pcs -f pgsql_cfg resource create pgsql ocf:heartbeat:pgsql \
    pgctl=/usr/lib/postgresql/17/bin/pg_ctl \
    psql=/usr/lib/postgresql/17/bin/psql \
    pgdata=/var/lib/postgresql/17/pgha \
    config=/var/lib/postgresql/17/pgha/postgresql.conf \
    rep_mode=async \
    node_list='node1 node2 node3' \
    master_ip=192.168.1.120 \
    repuser=repluser \
    primary_conninfo_opt='keepalives_idle=60 keepalives_interval=5 keepalives_count=5' \
    restart_on_promote=false \
    xlog_check_count=1 \
    op start timeout=60s interval=0s on-fail=restart \
    op monitor timeout=60s interval=2s on-fail=restart \
    op monitor timeout=60s interval=1s on-fail=restart role=Promoted \
    op promote timeout=60s interval=0s on-fail=restart \
    op demote timeout=60s interval=0s on-fail=stop \
    op stop timeout=60s interval=0s on-fail=block \
    op notify timeout=60s interval=0s
pcs -f pgsql_cfg resource promotable pgsql msPostgresql \
    meta promoted-max=1 promoted-node-max=1 clone-max=5 clone-node-max=1 notify=true
pcs -f pgsql_cfg resource group add master-group vip-master
pcs -f pgsql_cfg constraint colocation add master-group with Promoted msPostgresql score=INFINITY
pcs -f pgsql_cfg constraint order promote msPostgresql then start master-group symmetrical=false kind=Mandatory
pcs -f pgsql_cfg constraint order demote msPostgresql then stop master-group symmetrical=false kind=Optional
pcs -f pgsql_cfg resource create myvip ocf:heartbeat:IPaddr2 \
    ip=192.168.1.100 \
    cidr_netmask=24
pcs -f pgsql_cfg resource create myfs ocf:heartbeat:Filesystem \
    device=/dev/sdb1 \
    directory=/mnt/data \
    fstype=ext4
pcs -f pgsql_cfg resource create myservice systemd:apache2 \
    op monitor interval=30s timeout=20s
pcs -f pgsql_cfg constraint order start myvip then start myservice
pcs -f pgsql_cfg constraint colocation add myservice with myvip score=INFINITY
pcs -f pgsql_cfg constraint location myfs avoids node3=INFINITY
pcs cluster cib-push pgsql_cfg diff-against=pgsql_cfg.orig
