# BEGIN pgha managed block: PostgreSQL 13 environment (seed 000 §5.2.2)
export PGPORT=5432
export PGDATA=/var/lib/postgresql/13/pgha
export PATH=/usr/lib/postgresql/13/bin:$PATH
# END pgha managed block
