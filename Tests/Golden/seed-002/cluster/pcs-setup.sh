#!/bin/bash
# Cluster webcluster: authenticate the nodes, create and start the cluster (pcs 0.11).
# Run on one node as root. The hacluster password is read from the first line of stdin and
# handed to pcs on its stdin: it never appears in a command line.
set -euo pipefail
IFS= read -r hacluster_password
printf '%s\n' "$hacluster_password" | pcs host auth \
    node1 addr=192.168.1.11 \
    node2 addr=192.168.1.12 \
    node3 addr=192.168.1.13 \
    -u hacluster
pcs cluster setup webcluster \
    node1 addr=192.168.1.11 \
    node2 addr=192.168.1.12 \
    node3 addr=192.168.1.13
pcs cluster start --all
pcs cluster enable --all
