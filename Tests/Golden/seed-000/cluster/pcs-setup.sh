#!/bin/bash
# Cluster pgcluster: authenticate the nodes, create and start the cluster (pcs 0.9).
# Run on one node as root. The hacluster password is read from the first line of stdin and
# handed to pcs on its stdin: it never appears in a command line.
set -euo pipefail
IFS= read -r hacluster_password
printf '%s\n' "$hacluster_password" | pcs cluster auth db1 db2 db3 -u hacluster
pcs cluster setup --last_man_standing=1 --name pgcluster db1 db2 db3
pcs cluster start --all
pcs cluster enable --all
