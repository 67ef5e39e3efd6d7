import Foundation
import PghaSpec

/// Facts many steps read, computed once per fact script: the CIB's configuration section and
/// one psql round of the cluster's PostgreSQL state. Each costs a process start of a C tool or
/// psql (~10–20 ms of a host's CPU); asking once per step multiplied that by the step count.
public enum SharedFacts {
    public static let cibVariable = "PGHA_CIB"
    public static let pgVariable = "PGHA_PG"

    /// `cibadmin --query --scope configuration`; empty when no cluster runs here.
    public static let cib = (variable: cibVariable, command: "cibadmin --query --scope configuration")

    /// key=value lines from the running server: role, wal_receiver status, whether the
    /// replication role can replicate and log in, the restart-only settings, the settings
    /// waiting for a restart, and the standbys streaming from this server. Empty when PostgreSQL does not answer.
    public static func pg(_ spec: ClusterSpec) -> (variable: String, command: String) {
        let pg = spec.postgresql
        let role = spec.replication.user.replacingOccurrences(of: "'", with: "''")
        let sql = """
            select 'role=' || case when pg_is_in_recovery() then 'standby' else 'primary' end \
            union all select 'wal_receiver=' || coalesce((select status from pg_stat_wal_receiver limit 1), '') \
            union all select 'replication_role=' || coalesce((select case when rolreplication and rolcanlogin then 't' else 'f' end from pg_roles where rolname = '\(role)'), 'absent') \
            union all select 'restart=' || name from pg_settings where context = 'postmaster' \
            union all select 'pending=' || name from pg_settings where pending_restart \
            union all select 'streaming=' || application_name from pg_stat_replication where state = 'streaming'
            """
        // Only our own server: on a bare Debian host the distribution's main cluster answers on
        // the same port, and its state is not ours.
        let pid = shellWord(pg.dataDir + "/postmaster.pid")
        return (pgVariable, "[ -f \(pid) ] && kill -0 \"$(head -1 \(pid))\" && \(pg.psql) -c \(shellWord(sql))")
    }

    /// A probe printing the value of `key` from the PostgreSQL state.
    public static func pgValue(_ key: String) -> String { "printf '%s\\n' \"$\(pgVariable)\" | sed -n 's/^\(key)=//p'" }

    /// A probe printing "yes" when the CIB holds the resource `id`.
    public static func cibHas(_ id: String) -> String {
        "printf '%s' \"$\(cibVariable)\" | grep -q 'id=\"\(id)\"' && echo yes || echo no"
    }
}

extension ClusterSpec.PostgreSQL {
    /// psql as the OS user against the cluster's port, unaligned tuples only, from / (runuser
    /// keeps the caller's directory, which the postgres user may not be allowed into).
    public var psql: String { "cd / && runuser -u \(shellWord(osUser.name)) -- \(binDir)/psql -X -At -p \(port)" }
}
