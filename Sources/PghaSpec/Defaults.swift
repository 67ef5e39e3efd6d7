/// pgha's own defaults where they differ from the seeds': failover in seconds rather than tens of
/// seconds (README, "Failover speed", gives each one's trade-off). The seed specs state the seeds'
/// values instead, so that their renderings stay the seeds' (specs/seed-000.yaml, seed-001.yaml).
public enum PghaDefaults {
    /// The standbys' monitor: how often a standby reports its WAL location to the agent's election.
    public static let standbyMonitorInterval = "2s"
    /// The primary's monitor: how soon a dead primary is noticed.
    public static let primaryMonitorInterval = "1s"
    /// The pgsql agent's `xlog_check_count` (its default: 3): monitors of each standby that must
    /// agree on the WAL locations before it promotes one.
    public static let xlogCheckCount = 1
    /// PostgreSQL's default is 60 s: a standby whose primary lost power keeps its dead connection
    /// that long, and follows the new primary only then.
    public static let walReceiverTimeout = "5s"
    /// Pacemaker's default is 20 s: each node's wait for a DC before it holds an election, at every
    /// start of the cluster (written into the first CIB, so that the first start is quick too).
    public static let dcDeadtime = "5s"

    public static let properties: [(key: String, value: String)] = [("dc-deadtime", dcDeadtime)]

    /// The seed's operations of the pgsql resource with pgha's monitor intervals.
    public static let pgsqlOperations: [ClusterSpec.Operation] = SeedDefaults.pgsqlOperations.map { op in
        guard op.name == "monitor" else { return op }
        var op = op
        op.interval = op.role == nil ? standbyMonitorInterval : primaryMonitorInterval
        return op
    }
}

/// Defaults taken from the hand-written runbooks (seed 000_7d20d41147cf67a6.txt: CentOS 7 + pcs 0.9 + PostgreSQL 11
/// built from source; seed 001_18840a04bfc64e53.txt: PostgreSQL 14 from PGDG packages). A spec overrides any of them.
public enum SeedDefaults {
    public static let pgsqlResource = "pgsql"
    public static let pgsqlClone = "msPostgresql"
    public static let readWriteVIP = (resource: "vip-master", group: "master-group", hostname: "vip-master")
    public static let readOnlyVIP = (resource: "vip-slave", group: "slave-group", hostname: "vip-slave")

    public static let resourceDefaults: [(key: String, value: String)] = [
        ("resource-stickiness", "INFINITY"), ("migration-threshold", "1"),
    ]

    typealias Op = ClusterSpec.Operation
    /// `op …` lines of the pgsql resource in cluster_setup.sh.
    public static let pgsqlOperations: [ClusterSpec.Operation] = [
        Op(name: "start", role: nil, timeout: "60s", interval: "0s", onFail: "restart"),
        Op(name: "monitor", role: nil, timeout: "60s", interval: "4s", onFail: "restart"),
        Op(name: "monitor", role: "promoted", timeout: "60s", interval: "3s", onFail: "restart"),
        Op(name: "promote", role: nil, timeout: "60s", interval: "0s", onFail: "restart"),
        Op(name: "demote", role: nil, timeout: "60s", interval: "0s", onFail: "stop"),
        Op(name: "stop", role: nil, timeout: "60s", interval: "0s", onFail: "block"),
        Op(name: "notify", role: nil, timeout: "60s", interval: "0s", onFail: nil),
    ]
    public static let readWriteVIPOperations: [ClusterSpec.Operation] = [
        Op(name: "start", role: nil, timeout: "60s", interval: "0s", onFail: "restart"),
        Op(name: "monitor", role: nil, timeout: "60s", interval: "10s", onFail: "restart"),
        Op(name: "stop", role: nil, timeout: "60s", interval: "0s", onFail: "block"),
    ]
    public static let readOnlyVIPOperations: [ClusterSpec.Operation] = [
        Op(name: "start", role: nil, timeout: "60s", interval: "0s", onFail: "stop"),
        Op(name: "monitor", role: nil, timeout: "60s", interval: "10s", onFail: "restart"),
        Op(name: "stop", role: nil, timeout: "60s", interval: "0s", onFail: "ignore"),
    ]
    /// The spec names operations by key; `monitor_promoted` is the primary's own monitor.
    public static let pgsqlOperationKeys = ["start", "monitor", "monitor_promoted", "promote", "demote", "stop", "notify"]
    public static let vipOperationKeys = ["start", "monitor", "stop"]

    public static let clone = ClusterSpec.CloneOptions(promotedMax: 1, promotedNodeMax: 1, cloneMax: 5,
                                                      cloneNodeMax: 1, notify: true)
    public static let conninfoOptions: [(key: String, value: String)] = [
        ("keepalives_idle", "60"), ("keepalives_interval", "5"), ("keepalives_count", "5"),
    ]

    /// Seed 000 §5.4, adjusted by version and mode so the file is valid for the server it targets.
    public static func settings(version: Int, port: Int, archiveDir: String?,
                                mode: ClusterSpec.ReplicationMode) -> [(key: String, value: String)] {
        var settings: [(String, String)] = [
            ("listen_addresses", "*"),
            ("port", String(port)),
            ("wal_level", "logical"),
            ("wal_log_hints", "on"),
            ("checkpoint_completion_target", "0.9"),
        ]
        if let archiveDir {
            settings += [("archive_mode", "on"), ("archive_command", "cp %p \(archiveDir)/%f")]
        }
        // wal_keep_segments was replaced by wal_keep_size (in MB) in PostgreSQL 13.
        settings.append(version >= 13 ? ("wal_keep_size", "1600MB") : ("wal_keep_segments", "100"))
        // The pgsql agent refuses to start in sync mode when the file sets this itself.
        if mode == .async { settings.append(("synchronous_standby_names", "")) }
        settings += [
            ("hot_standby_feedback", "on"),
            ("logging_collector", "on"),
            ("log_filename", "postgresql-%a.log"),
            ("log_truncate_on_rotation", "on"),
            ("log_rotation_size", "0"),
            ("log_min_duration_statement", "0"),
            ("log_checkpoints", "on"),
            ("log_connections", "on"),
            ("log_disconnections", "on"),
            ("log_line_prefix", "%t [%p]: db=%d,user=%u,app=%a,client=%h "),
            ("log_lock_waits", "on"),
            ("log_temp_files", "0"),
            ("log_autovacuum_min_duration", "0"),
            ("lc_messages", "en_US.UTF-8"),
            ("max_wal_senders", "10"),
            ("max_replication_slots", "10"),
            ("max_worker_processes", "8"),
        ]
        return settings
    }

    public static func packages(distribution: ClusterSpec.Distribution, version: Int) -> [String] {
        switch distribution {
        case .pgdg: return ["postgresql\(version)-server", "postgresql\(version)-contrib"]
        case .debian: return ["postgresql-\(version)"]
        }
    }

    public static func binDir(distribution: ClusterSpec.Distribution, version: Int) -> String {
        switch distribution {
        case .pgdg: return "/usr/pgsql-\(version)/bin"
        case .debian: return "/usr/lib/postgresql/\(version)/bin"
        }
    }

    public static func home(method: ClusterSpec.InstallMethod, distribution: ClusterSpec.Distribution,
                            user: String) -> String {
        if method == .source { return "/home/\(user)" }
        return distribution == .debian ? "/var/lib/postgresql" : "/var/lib/pgsql"
    }

    /// Seed 000 §5.1: what a source build of PostgreSQL needs on EL.
    public static let buildPackages = [
        "readline-devel", "zlib-devel", "gettext-devel", "openssl-devel", "pam-devel", "libxml2-devel",
        "libxslt-devel", "perl-devel", "tcl-devel", "uuid-devel", "gcc", "gcc-c++", "make", "flex", "bison",
        "perl-ExtUtils-Embed",
    ]

    /// Debian/Ubuntu names for what seed 000 §5.1 installs on EL, limited to what `configure`
    /// uses with the seed's flags: compiler and make, readline, zlib, OpenSSL, libxml2, bison and
    /// flex, pkg-config; ICU from PostgreSQL 16 on, where configure wants it by default.
    public static func debianBuildPackages(version: Int) -> [String] {
        ["build-essential", "libreadline-dev", "zlib1g-dev", "bison", "flex", "libssl-dev", "libxml2-dev", "pkg-config"]
            + (version >= 16 ? ["libicu-dev"] : [])
    }
}
