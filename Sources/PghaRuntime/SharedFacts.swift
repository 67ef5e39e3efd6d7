import Foundation
import PghaShell
import PghaSpec

/// Facts many steps read, computed once per fact script: the CIB's configuration section and
/// one psql round of the cluster's PostgreSQL state. Each costs a process start of a C tool or
/// psql (~10–20 ms of a host's CPU); asking once per step multiplied that by the step count.
public enum SharedFacts {
    /// The shell variables the fact script fills: fixed identifiers, never values.
    public enum Variable: String, Sendable {
        case cib = "PGHA_CIB"
        case pg = "PGHA_PG"
        case rwVIP = "PGHA_RW_VIP"

        /// `"$NAME"` as shell text.
        var expansion: Shell {
            switch self {
            case .cib: return "\"$PGHA_CIB\""
            case .pg: return "\"$PGHA_PG\""
            case .rwVIP: return "\"$PGHA_RW_VIP\""
            }
        }
    }

    /// A shared value: the variable the fact script fills and the command that fills it.
    public struct Value: Sendable, Equatable {
        public var variable: Variable
        public var command: Shell
        public init(_ variable: Variable, _ command: Shell) {
            self.variable = variable
            self.command = command
        }
    }

    /// `cibadmin --query --scope configuration`; when Pacemaker does not run here, the CIB it
    /// keeps on disk (a node powered on again is still a member: nothing may treat it as bare).
    /// Empty when this host never was in a cluster.
    public static let cib = Value(.cib, "cibadmin --query --scope configuration || cat /var/lib/pacemaker/cib/cib.xml")

    /// key=value lines from the running server: role, wal_receiver status, whether the
    /// replication role can replicate and log in, the restart-only settings, the settings
    /// waiting for a restart, and the standbys streaming from this server. Empty when PostgreSQL does not answer.
    public static func pg(_ spec: ClusterSpec) -> Value {
        let pg = spec.postgresql
        let sql = """
            select 'role=' || case when pg_is_in_recovery() then 'standby' else 'primary' end \
            union all select 'wal_receiver=' || coalesce((select status from pg_stat_wal_receiver limit 1), '') \
            union all select 'replication_role=' || coalesce((select case when rolreplication and rolcanlogin then 't' else 'f' end from pg_roles where rolname = \(sqlLiteral(spec.replication.user))), 'absent') \
            union all select 'restart=' || name from pg_settings where context = 'postmaster' \
            union all select 'pending=' || name from pg_settings where pending_restart \
            union all select 'streaming=' || application_name from pg_stat_replication where state = 'streaming' \
            union all select 'replication_password=' || \(StoredPassword.sql(role: spec.replication.user)) \
            union all select 'rewind_grants=' || coalesce((select (\(RewindGrantsStep.functions.map { "has_function_privilege(oid, \(sqlLiteral($0)), 'execute')" }.joined(separator: " and ")))::text from pg_roles where rolname = \(sqlLiteral(spec.replication.user))), 'absent')
            """
        // Only our own server: on a bare Debian host the distribution's main cluster answers on
        // the same port, and its state is not ours.
        let pid = pg.dataDir + "/postmaster.pid"
        return Value(.pg, "[ -f \(pid) ] && kill -0 \"$(head -1 \(pid))\" && \(pg.tools.psql(sql))")
    }

    /// "up" when anything accepts a TCP connection at the rw VIP's port within 1 s. Where no
    /// node holds the address yet (a bootstrap), the kernel gives up on ARP only after 3 s and
    /// libpq waits at least 2 s: this answers in 1 s, once per fact script, and a VIP held on
    /// the same subnet answers in well under a millisecond. Probes ask PostgreSQL there only
    /// behind it (`rwVIPUp`).
    public static func rwVIP(_ spec: ClusterSpec) -> Value {
        // Topology pgpool: the delegate VIP is on the watchdog's leader, which need not be the
        // primary, so nothing behind it is taken for the primary (a standby clones from the spec's
        // primary; finding the current primary after a failover is the pgpool rejoin's job).
        if spec.topology == .pgpool { return Value(.rwVIP, "true") }
        let open: Shell = "exec 3<>/dev/tcp/\(spec.vips.readWrite.ip)/\(spec.postgresql.port)"
        return Value(.rwVIP, "\(Command("timeout", "1", "bash", "-c", open.text)) 2>/dev/null && echo up")
    }

    /// Shell text: true when `rwVIP` found the address answering.
    public static let rwVIPUp: Shell = "[ \(Variable.rwVIP.expansion) = up ]"

    /// A probe printing the value of `key` from the PostgreSQL state (`key`: a word of pgha's).
    public static func pgValue(_ key: String) -> Shell {
        let program: String = "s/^" + key + "=//p"
        return "printf '%s\\n' \(Variable.pg.expansion) | sed -n \(program)"
    }

    /// A probe printing "yes" when the CIB holds the resource `id`.
    public static func cibHas(_ id: String) -> Shell {
        let attribute: String = "id=\"" + id + "\""
        return "printf '%s' \(Variable.cib.expansion) | grep -qF -- \(attribute) && echo yes || echo no"
    }
}

/// A string as an SQL literal: single quotes, a quote doubled (standard_conforming_strings is
/// on from PostgreSQL 9.1 on, so a backslash is an ordinary character).
public func sqlLiteral(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "''") + "'" }

/// The programs of one PostgreSQL installation, run as its OS user from / (runuser keeps the
/// caller's directory, which that user may not be allowed into): the one place psql and pg_ctl
/// invocations are written.
public struct PostgresTools: Sendable {
    public var binDir: String
    public var user: String
    public var port: Int
    public var dataDir: String

    public init(binDir: String, user: String, port: Int, dataDir: String) {
        self.binDir = binDir
        self.user = user
        self.port = port
        self.dataDir = dataDir
    }

    /// A program of the installation (`bin_dir/NAME`), as the OS user unless `asUser` is false.
    public func tool(_ name: String, _ arguments: [String], asUser: Bool = true) -> Command {
        Command([binDir + "/" + name] + arguments, user: asUser ? user : nil)
    }

    /// psql against the cluster's port, unaligned tuples only.
    public var psqlCommand: Command { tool("psql", ["-X", "-At", "-p", String(port)]) }

    /// psql running one SQL text (`-c`), with more psql options before it.
    public func psql(_ sql: String, options: [String] = []) -> Shell {
        psqlCommand.appending(options + ["-c", sql]).shell
    }

    /// `pg_ctl VERB -D DATA_DIR OPTIONS…`.
    public func pgCtl(_ verb: String, _ options: [String] = []) -> Command {
        tool("pg_ctl", [verb, "-D", dataDir] + options)
    }
}

extension ClusterSpec.PostgreSQL {
    public var tools: PostgresTools { PostgresTools(binDir: binDir, user: osUser.name, port: port, dataDir: dataDir) }
}

/// A name as an SQL identifier: double quotes, a quote doubled.
public func sqlIdentifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
