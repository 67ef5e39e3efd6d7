#!/bin/bash
# Cluster webcluster: resources, groups and constraints (pcs 0.11 dialect),
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
pcs -f pgsql_cfg stonith create fence_ipmi_node1 fence_ipmilan \
    ip=192.168.1.200 \
    username=admin \
    password_script=/etc/pgha/ipmi-password \
    lanplus=1 \
    pcmk_host_list=node1
pcs -f pgsql_cfg stonith create fence_ipmi_node2 fence_ipmilan \
    ip=192.168.1.201 \
    username=admin \
    password_script=/etc/pgha/ipmi-password \
    lanplus=1 \
    pcmk_host_list=node2
pcs -f pgsql_cfg stonith create fence_ipmi_node3 fence_ipmilan \
    ip=192.168.1.202 \
    username=admin \
    password_script=/etc/pgha/ipmi-password \
    lanplus=1 \
    pcmk_host_list=node3
pcs -f pgsql_cfg resource create vip-master ocf:heartbeat:IPaddr2 \
    ip=192.168.1.110 \
    nic=eth0 \
    cidr_netmask=24 \
    op start timeout=60s interval=0s on-fail=restart \
    op monitor timeout=60s interval=10s on-fail=restart \
    op stop timeout=60s interval=0s on-fail=block
pcs -f pgsql_cfg resource create vip-slave ocf:heartbeat:IPaddr2 \
    ip=192.168.1.111 \
    nic=eth0 \
    cidr_netmask=24 \
    meta migration-threshold=0 \
    op start timeout=60s interval=0s on-fail=stop \
    op monitor timeout=60s interval=10s on-fail=restart \
    op stop timeout=60s interval=0s on-fail=ignore
pcs -f pgsql_cfg resource create pgsql ocf:heartbeat:pgsql \
    pgctl=/usr/lib/postgresql/15/bin/pg_ctl \
    psql=/usr/lib/postgresql/15/bin/psql \
    pgdata=/var/lib/postgresql/15/pgha \
    config=/var/lib/postgresql/15/pgha/postgresql.conf \
    rep_mode=async \
    node_list='node1 node2 node3' \
    master_ip=192.168.1.110 \
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
pcs -f pgsql_cfg resource group add slave-group vip-slave
pcs -f pgsql_cfg constraint colocation add master-group with Promoted msPostgresql INFINITY
pcs -f pgsql_cfg constraint order promote msPostgresql then start master-group symmetrical=false kind=Mandatory
pcs -f pgsql_cfg constraint order demote msPostgresql then stop master-group symmetrical=false kind=Optional
pcs -f pgsql_cfg constraint colocation add slave-group with Unpromoted msPostgresql INFINITY
pcs -f pgsql_cfg constraint order promote msPostgresql then start slave-group symmetrical=false kind=Mandatory
pcs -f pgsql_cfg constraint order demote msPostgresql then stop slave-group symmetrical=false kind=Optional
pcs -f pgsql_cfg resource create VirtualIP ocf:heartbeat:IPaddr2 \
    ip=192.168.1.100 \
    cidr_netmask=24 \
    op monitor interval=10s
pcs -f pgsql_cfg resource create NginxService systemd:nginx \
    op monitor interval=20s
pcs -f pgsql_cfg resource group add WebAppGroup VirtualIP NginxService
pcs cluster cib-push pgsql_cfg diff-against=pgsql_cfg.orig
