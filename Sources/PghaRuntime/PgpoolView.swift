import Foundation
import PghaShell
import PghaSpec

/// pgpool-II's own view of the cluster, read on one node (topology pgpool, seed
/// 004_c3f681306b8e49e1.txt): its backends (`pcp_node_info -a`), its watchdog
/// (`pcp_watchdog_info -v`), whether pgpool runs, and whether the delegate VIP answers on
/// pgpool's port. Every value parsed here came from a host and is untrusted text: it is
/// compared and printed, never put into a command.
public struct PgpoolProbes: Sendable {
    let spec: ClusterSpec
    let pgpool: PgpoolSpec

    public init(spec: ClusterSpec, pgpool: PgpoolSpec) {
        self.spec = spec
        self.pgpool = pgpool
    }

    /// A pcp command as the PostgreSQL user (its ~/.pcppass, written by pgha), to this node's pgpool.
    public func pcp(_ tool: String, _ extra: [String] = []) -> Command {
        Command([tool, "-w", "-h", "localhost", "-p", String(pgpool.pcpPort), "-U", pgpool.pcpUser] + extra, user: spec.postgresql.osUser.name)
    }

    public var running: Probe<Bool> {
        Probe("pgpool.running", "pgrep -x pgpool >/dev/null && echo yes || echo no") { $0 == "yes" }
    }

    /// The backends as this node's pgpool sees them; empty when pcp does not answer.
    public var backends: Probe<[PgpoolBackend]> {
        Probe("pgpool.backends", "\(pcp("pcp_node_info", ["-a"])) 2>/dev/null || true") { PgpoolBackend.parse($0) }
    }

    public var watchdog: Probe<PgpoolWatchdog?> {
        Probe("pgpool.watchdog", "\(pcp("pcp_watchdog_info", ["-v"])) 2>/dev/null || true") { PgpoolWatchdog.parse($0) }
    }

    /// Whether pgpool answers on the delegate VIP, seen from this host (pg_isready, 2 s).
    public var vipAnswers: Probe<Bool> {
        let ready = spec.postgresql.tools.tool("pg_isready", ["-q", "-h", spec.vips.readWrite.ip, "-p", String(pgpool.port), "-t", "2"], asUser: false)
        return Probe("pgpool.vip-answers", "if \(ready); then echo yes; else echo no; fi") { $0 == "yes" }
    }

    public func probe(_ script: inout FactScript) {
        let node = NodeProbes(spec: spec)
        script.add(node.server)
        script.add(node.control)
        script.add(node.addresses)
        script.add(running)
        script.add(backends)
        script.add(watchdog)
        script.add(vipAnswers)
    }
}

/// One line of `pcp_node_info -a`. pgpool-II 4.3 and later print
/// `host port status weight status_name pg_status role pg_role delay repl_state sync_state date time`
/// (status: 0 initializing, 1 up and waiting for a connection, 2 up, 3 down); 4.0–4.2 have no
/// pg_status and pg_role.
public struct PgpoolBackend: Sendable, Equatable, Encodable {
    public var address: String
    public var port: Int
    /// up, waiting (up, no connection yet), down, unused.
    public var status: String
    /// The role pgpool gives it (primary, standby).
    public var role: String
    /// What PostgreSQL itself says (4.3+): up/down and primary/standby; nil before 4.3.
    public var postgresStatus: String?
    public var postgresRole: String?
    public var delayBytes: Int?
    public var replicationState: String?
    public var syncState: String?

    /// Up for pgpool: it sends queries there (status 1 or 2).
    public var isUp: Bool { status == "up" || status == "waiting" }

    public static func parse(_ text: String) -> [PgpoolBackend] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ").map(String.init)
            guard f.count >= 7, let port = Int(f[1]) else { return nil }
            let name = ["0": "initializing", "1": "waiting", "2": "up", "3": "down"][f[2]] ?? f[4]
            func value(_ s: String?) -> String? { s.flatMap { $0 == "none" || $0.isEmpty ? nil : $0 } }
            if f.count >= 11 && ["up", "down", "unknown"].contains(f[5]) {
                return PgpoolBackend(address: f[0], port: port, status: name, role: f[6], postgresStatus: f[5], postgresRole: f[7],
                                     delayBytes: Int(f[8]), replicationState: value(f[9]), syncState: value(f[10]))
            }
            return PgpoolBackend(address: f[0], port: port, status: name, role: f[5], postgresStatus: nil, postgresRole: nil,
                                 delayBytes: Int(f[6]), replicationState: f.count > 7 ? value(f[7]) : nil, syncState: f.count > 8 ? value(f[8]) : nil)
        }
    }
}

/// `pcp_watchdog_info -v`: the quorum, the leader, and each watchdog node's state.
public struct PgpoolWatchdog: Sendable, Equatable, Encodable {
    public struct Member: Sendable, Equatable, Encodable {
        public var host: String
        /// LEADER, STANDBY, LOST, SHUTDOWN, DEAD, …
        public var status: String
        /// MEMBER, or NOT-MEMBER (4.3+; absent before).
        public var membership: String?
    }
    public var quorum: Bool
    public var leaderHost: String?
    public var members: [Member]

    public static func parse(_ text: String) -> PgpoolWatchdog? {
        var quorum: Bool?
        var leader: String?
        var members: [Member] = []
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "Quorum state": quorum = value == "QUORUM EXIST" || value == "QUORUM IS ON THE EDGE"
            case "Leader Host Name", "Master Host Name": leader = value.isEmpty ? nil : value
            case "Node Name": members.append(Member(host: "", status: "", membership: nil))
            case "Host Name" where !members.isEmpty: members[members.count - 1].host = value
            case "Status Name" where !members.isEmpty: members[members.count - 1].status = value
            case "Membership Status" where !members.isEmpty: members[members.count - 1].membership = value
            default: break
            }
        }
        guard let quorum else { return nil }
        return PgpoolWatchdog(quorum: quorum, leaderHost: leader, members: members)
    }
}
