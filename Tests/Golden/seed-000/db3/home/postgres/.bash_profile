# BEGIN pgha managed block: PostgreSQL 11 environment (seed 000 §5.2.2)
export PGPORT=5432
export PGDATA=/opt/pgdata1110
export PATH=/opt/pg1110/bin:$PATH
export PG_HOME=/opt/pg1110
export LD_LIBRARY_PATH=/opt/pg1110/lib
export LANG=en_US.utf8
# END pgha managed block
