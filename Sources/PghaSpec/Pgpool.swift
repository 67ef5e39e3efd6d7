import Foundation
import Yams

/// Which HA design the spec builds: Pacemaker with the pgsql agent (seeds 000–003), or pgpool-II
/// with its watchdog and a delegate VIP (seed 004_c3f681306b8e49e1.txt).
public enum Topology: String, CaseIterable, Sendable {
    case pacemaker, pgpool
}

/// The `pgpool:` section of a spec (topology: pgpool). Defaults: pgpool-II's own documentation
/// where the seed says nothing, pgha's faster health checks otherwise (README, "pgpool-II").
public struct PgpoolSpec: Sendable {
    /// The names pgpool.conf uses. 4.0/4.1 (seed 004): `master_slave_mode`, `other_pgpool_hostname0`,
    /// `heartbeat_destination0`, `follow_master_command`, one file per node. 4.2+: `backend_clustering_mode`,
    /// `hostname0`/`wd_port0`/`pgpool_port0`, `heartbeat_hostname0`, `follow_primary_command`, one file for
    /// every node plus each node's `pgpool_node_id`.
    public enum Dialect: String, CaseIterable, Sendable, Comparable {
        case v4_0 = "4.0"
        case v4_2 = "4.2"
        /// 4.5+: `socket_dir` is `unix_socket_directories` (4.6 ignores the old name).
        case v4_5 = "4.5"
        public static func < (a: Dialect, b: Dialect) -> Bool { a.rawValue < b.rawValue }

        /// The dialect of an installed pgpool-II (`pgpool --version`: "pgpool-II version 4.3.5 (tamahomeboshi)").
        public static func detect(versionOutput: String) -> Dialect? {
            guard let range = versionOutput.range(of: #"version ([0-9]+)\.([0-9]+)"#, options: .regularExpression) else { return nil }
            let parts = versionOutput[range].dropFirst("version ".count).split(separator: ".").compactMap { Int($0) }
            guard parts.count == 2 else { return nil }
            if parts[0] < 4 { return nil }
            return (parts[0], parts[1]) < (4, 2) ? .v4_0 : (parts[0], parts[1]) < (4, 5) ? .v4_2 : .v4_5
        }
    }

    public enum Acknowledgement: String, CaseIterable, Sendable {
        /// Two pgpool nodes: the watchdog cannot tell a dead peer from a cut network.
        case twoNodeWatchdog = "two-node-watchdog"
    }

    public struct User: Sendable {
        public var name: String
        public var password: SecretRef
    }

    public struct HealthCheck: Sendable {
        public var period: Int
        public var timeout: Int
        public var maxRetries: Int
        public var retryDelay: Int
        public var user: String
    }

    public var dialect: Dialect?
    public var port: Int
    public var pcpPort: Int
    public var watchdogPort: Int
    public var heartbeatPort: Int
    public var healthCheck: HealthCheck
    public var srCheckPeriod: Int
    public var srCheckUser: String
    /// The replication delay (bytes) above which reads are not sent to a standby.
    public var delayThreshold: Int
    public var pcpUser: String
    public var pcpPassword: SecretRef
    public var users: [User]
    /// The key pool_passwd's AES entries are encrypted with (~/.pgpoolkey of the pgpool user); the
    /// postgres user's SSH key for pgpool's scripts is derived from it too.
    public var key: SecretRef
    public var loadBalance: Bool
    public var hba: [ClusterSpec.HBARule]
    /// Extra pgpool.conf settings, in order, after pgha's.
    public var settings: [(key: String, value: String)]
    public var acknowledgements: [Acknowledgement]
    public var consensusWithHalfVotes: Bool
    /// /etc/pgpool2 (Debian) or /etc/pgpool-II (pgdg).
    public var configDir: String
    /// The pgpool-II packages: Debian's pgpool2 and the server extension, or pgdg's pgpool-II-pgN.
    public var packages: [String]
    public var osUser: String

    public func user(named name: String) -> User? { users.first { $0.name == name } }
}

public enum PgpoolDefaults {
    public static let port = 9999
    public static let pcpPort = 9898
    public static let watchdogPort = 9000
    public static let heartbeatPort = 9694
    /// Seconds between health checks of each backend. The seed's 10 s is the largest part of its
    /// failover time; 2 s costs one short connection per backend and node every 2 s.
    public static let healthCheckPeriod = 2
    public static let healthCheckTimeout = 5
    public static let healthCheckMaxRetries = 1
    public static let healthCheckRetryDelay = 1
    public static let srCheckPeriod = 5
    public static let delayThreshold = 10_000_000
    public static let vipResource = "delegate_ip"

    public static func configDir(_ distribution: ClusterSpec.Distribution) -> String {
        distribution == .debian ? "/etc/pgpool2" : "/etc/pgpool-II"
    }

    public static func packages(_ distribution: ClusterSpec.Distribution, version: Int) -> [String] {
        // sudo and arping for the watchdog's VIP commands (the sudo rule names them).
        // ping: the watchdog pings the delegate IP after bringing it up, and calls it failed without ping.
        distribution == .debian ? ["pgpool2", "postgresql-\(version)-pgpool2", "sudo", "iputils-arping", "iputils-ping"]
            : ["pgpool-II-pg\(version)", "pgpool-II-pg\(version)-extensions", "sudo", "iputils"]
    }
}

extension SpecDecoder {
    /// `pgpool:` (topology pgpool). The delegate VIP becomes the spec's read-write VIP: the one
    /// address clients write through, in either topology.
    func decodePgpool(_ node: Yams.Node?, postgresql: ClusterSpec.PostgreSQL?) -> (PgpoolSpec, ClusterSpec.VIP)? {
        let path = "pgpool"
        guard let f = r.mapping(node, path, allowed: ["dialect", "port", "pcp_port", "watchdog", "delegate_vip", "health_check",
                                                      "sr_check", "delay_threshold", "pcp", "users", "key", "load_balance",
                                                      "hba", "settings", "acknowledge", "consensus_with_half_votes"],
                                required: ["delegate_vip", "pcp", "users", "key"]) else { return nil }
        let dialect = f.has("dialect") ? r.choice(f["dialect"], "\(path).dialect", PgpoolSpec.Dialect.self) : nil
        let vip = decodeVIP(f["delegate_vip"], "\(path).delegate_vip", defaults: (PgpoolDefaults.vipResource, PgpoolDefaults.vipResource, "pgha-vip"),
                            operations: [], meta: [], pgpool: true)
        let watchdog = r.mapping(f["watchdog"], "\(path).watchdog", allowed: ["port", "heartbeat_port"])
        let health = r.mapping(f["health_check"], "\(path).health_check", allowed: ["period", "timeout", "max_retries", "retry_delay", "user"],
                               required: ["user"])
        let sr = r.mapping(f["sr_check"], "\(path).sr_check", allowed: ["period", "user"])
        let pcp = r.mapping(f["pcp"], "\(path).pcp", allowed: ["user", "password"], required: ["user", "password"])
        var users: [PgpoolSpec.User] = []
        for (i, item) in (r.sequence(f["users"], "\(path).users") ?? []).enumerated() {
            let p = "\(path).users[\(i)]"
            guard let u = r.mapping(item, p, allowed: ["name", "password"], required: ["name", "password"]),
                  let name = r.string(u["name"], "\(p).name"),
                  let password = r.secret(u["password"], "\(p).password", suggestedEnv: "PGHA_PGPOOL_PASSWORD") else { continue }
            users.append(.init(name: name, password: password))
        }
        var hba: [ClusterSpec.HBARule] = []
        for (i, item) in (r.sequence(f["hba"], "\(path).hba") ?? []).enumerated() {
            let p = "\(path).hba[\(i)]"
            guard let rule = r.mapping(item, p, allowed: ["type", "database", "user", "address", "method"],
                                       required: ["type", "database", "user", "method"]),
                  let type = r.string(rule["type"], "\(p).type"), let database = r.string(rule["database"], "\(p).database"),
                  let user = r.string(rule["user"], "\(p).user"), let method = r.string(rule["method"], "\(p).method") else { continue }
            hba.append(.init(type: type, database: database, user: user, address: r.string(rule["address"], "\(p).address"), method: method))
        }
        var acknowledgements: [PgpoolSpec.Acknowledgement] = []
        for (i, item) in (r.sequence(f["acknowledge"], "\(path).acknowledge") ?? []).enumerated() {
            if let ack = r.choice(item, "\(path).acknowledge[\(i)]", PgpoolSpec.Acknowledgement.self) { acknowledgements.append(ack) }
        }
        let pcpPassword = r.secret(pcp?["password"], "\(path).pcp.password", suggestedEnv: "PGHA_PCP_PASSWORD")
        let key = r.secret(f["key"], "\(path).key", suggestedEnv: "PGHA_PGPOOL_KEY")
        let healthUser = r.string(health?["user"], "\(path).health_check.user")
        guard let vip, let pcpPassword, let key, let healthUser, let pcpUser = r.string(pcp?["user"], "\(path).pcp.user"),
              let pg = postgresql else { return nil }
        let port = { (node: Yams.Node?, key: String, fallback: Int) in r.int(node, key, range: 1...65535) ?? fallback }
        let seconds = { (node: Yams.Node?, key: String, fallback: Int) in r.int(node, key, range: 0...86400) ?? fallback }
        let spec = PgpoolSpec(
            dialect: dialect ?? nil,
            port: port(f["port"], "\(path).port", PgpoolDefaults.port),
            pcpPort: port(f["pcp_port"], "\(path).pcp_port", PgpoolDefaults.pcpPort),
            watchdogPort: port(watchdog?["port"], "\(path).watchdog.port", PgpoolDefaults.watchdogPort),
            heartbeatPort: port(watchdog?["heartbeat_port"], "\(path).watchdog.heartbeat_port", PgpoolDefaults.heartbeatPort),
            healthCheck: .init(period: seconds(health?["period"], "\(path).health_check.period", PgpoolDefaults.healthCheckPeriod),
                               timeout: seconds(health?["timeout"], "\(path).health_check.timeout", PgpoolDefaults.healthCheckTimeout),
                               maxRetries: r.int(health?["max_retries"], "\(path).health_check.max_retries", range: 0...100) ?? PgpoolDefaults.healthCheckMaxRetries,
                               retryDelay: seconds(health?["retry_delay"], "\(path).health_check.retry_delay", PgpoolDefaults.healthCheckRetryDelay),
                               user: healthUser),
            srCheckPeriod: seconds(sr?["period"], "\(path).sr_check.period", PgpoolDefaults.srCheckPeriod),
            srCheckUser: r.string(sr?["user"], "\(path).sr_check.user") ?? healthUser,
            delayThreshold: r.int(f["delay_threshold"], "\(path).delay_threshold", range: 0...Int(Int32.max)) ?? PgpoolDefaults.delayThreshold,
            pcpUser: pcpUser, pcpPassword: pcpPassword, users: users, key: key,
            loadBalance: r.bool(f["load_balance"], "\(path).load_balance") ?? true,
            hba: hba, settings: r.scalarMap(f["settings"], "\(path).settings") ?? [],
            acknowledgements: acknowledgements,
            consensusWithHalfVotes: r.bool(f["consensus_with_half_votes"], "\(path).consensus_with_half_votes") ?? false,
            configDir: PgpoolDefaults.configDir(pg.install.distribution),
            packages: PgpoolDefaults.packages(pg.install.distribution, version: pg.version),
            osUser: pg.osUser.name)
        return (spec, vip)
    }
}


