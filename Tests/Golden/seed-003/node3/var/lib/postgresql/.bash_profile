# BEGIN pgha managed block: PostgreSQL 17 environment (seed 000 §5.2.2)
export PGPORT=5432
export PGDATA=/var/lib/postgresql/17/pgha
export PATH=/usr/lib/postgresql/17/bin:$PATH
# END pgha managed block
