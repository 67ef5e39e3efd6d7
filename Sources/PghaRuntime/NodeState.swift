import Foundation
import PghaShell
import PghaSpec

/// What one node is right now, read in one round trip: the cluster as its Pacemaker sees it,
/// its PostgreSQL as PostgreSQL sees it (running or not), the agent's lock file, and the VIPs it
/// holds. `pgha status` reads these on every node; the rejoin step reads them on its own.
/// Every value parsed here came from a host and is treated as untrusted text: nothing of it is
/// ever put into a command.
public struct NodeProbes: Sendable {
    let spec: ClusterSpec

    public init(spec: ClusterSpec) { self.spec = spec }

    /// crm_mon's XML (every section).
    public var cluster: Probe<CrmMonStatus?> { CrmMonStatus.probe.map { CrmMonStatus.parse($0) } }

    /// The running server's view of itself, as key=value lines; empty when it does not run.
    public var server: Probe<ServerState?> {
        let pg = spec.postgresql
        let sql = """
            select 'recovery=' || pg_is_in_recovery() \
            union all select 'lsn=' || case when pg_is_in_recovery() then coalesce(pg_last_wal_replay_lsn()::text, '') else pg_current_wal_lsn()::text end \
            union all select 'timeline=' || case when pg_is_in_recovery() then coalesce((select received_tli from pg_stat_wal_receiver limit 1), (select timeline_id from pg_control_checkpoint())) else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end \
            union all select 'receiver=' || status || ' ' || coalesce(sender_host, '-') from pg_stat_wal_receiver \
            union all select 'replay_delay=' || coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp())::bigint::text, '') where pg_is_in_recovery() \
            union all select 'standby=' || application_name || ' ' || state || ' ' || sync_state || ' ' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text, '-') || ' ' || coalesce(round(extract(epoch from replay_lag)::numeric, 3)::text, '-') from pg_stat_replication
            """
        let pid = pg.dataDir + "/postmaster.pid"
        return Probe("node.server", "[ -f \(pid) ] && kill -0 \"$(head -1 \(pid))\" && \(pg.tools.psql(sql))") { ServerState.parse($0) }
    }

    /// pg_controldata of the data directory: what a stopped server last was.
    public var control: Probe<ControlData?> {
        let pg = spec.postgresql
        let command = pg.tools.tool("pg_controldata", ["-D", pg.dataDir])
        return Probe("node.controldata", "[ -f \(pg.dataDir + "/global/pg_control") ] && \(command)") { ControlData.parse($0) }
    }

    /// The pgsql agent's lock file (`tmpdir/PGSQL.lock`): left by a primary that did not stop
    /// cleanly; the agent refuses to start PostgreSQL while it exists. "link" when a link is there.
    public var lockFile: Probe<LockFile> {
        guard let tmp = spec.pacemaker.tmpdir else { return Probe("node.lock", "echo none") { _ in .absent } }
        let path = tmp + "/PGSQL.lock"
        return Probe("node.lock", "if [ -L \(path) ]; then echo link; elif [ -e \(path) ]; then echo present; else echo absent; fi") {
            LockFile(rawValue: $0) ?? .absent
        }
    }

    /// The IPv4 addresses on this host's interfaces.
    public var addresses: Probe<Set<String>> {
        Probe("node.addresses", "ip -o -4 addr show") { text in
            Set(text.split(separator: "\n").compactMap { line -> String? in
                let words = line.split(separator: " ", omittingEmptySubsequences: true)
                guard let inet = words.firstIndex(of: "inet"), inet + 1 < words.count else { return nil }
                return words[inet + 1].split(separator: "/").first.map(String.init)
            })
        }
    }

    /// Whether PostgreSQL answers on each VIP, seen from this host (pg_isready, 2 s).
    public var vipAnswers: Probe<[String: Bool]> {
        let pg = spec.postgresql
        let vips = [spec.vips.readWrite] + (spec.vips.readOnly.map { [$0] } ?? [])
        let checks: [Shell] = vips.map { vip in
            let ready = pg.tools.tool("pg_isready", ["-q", "-h", vip.ip, "-p", String(pg.port), "-t", "2"], asUser: false)
            return "if \(ready); then echo \(vip.ip) yes; else echo \(vip.ip) no; fi"
        }
        return Probe("node.vip-answers", Shell.lines(checks)) { text in
            var answers: [String: Bool] = [:]
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                if words.count == 2 { answers[String(words[0])] = words[1] == "yes" }
            }
            return answers
        }
    }

    public func probe(_ script: inout FactScript) {
        script.add(cluster)
        script.add(server)
        script.add(control)
        script.add(lockFile)
        script.add(addresses)
        script.add(vipAnswers)
    }
}

public enum LockFile: String, Sendable, Equatable, Encodable {
    case absent, present, link
}

/// A running server as it reports itself.
public struct ServerState: Sendable, Equatable {
    public struct Standby: Sendable, Equatable {
        public var name: String
        public var state: String
        public var syncState: String
        public var lagBytes: Int?
        public var lagSeconds: Double?
    }
    public var inRecovery: Bool
    public var lsn: String
    public var timeline: Int?
    /// pg_stat_wal_receiver's status on a standby ("streaming"…), nil without a receiver.
    public var receiver: String?
    public var sender: String?
    /// Seconds since the last replayed transaction's commit (a standby).
    public var replayDelay: Int?
    /// pg_stat_replication (a primary).
    public var standbys: [Standby]

    public static func parse(_ text: String) -> ServerState? {
        var recovery: Bool?
        var state = ServerState(inRecovery: false, lsn: "", timeline: nil, receiver: nil, sender: nil, replayDelay: nil, standbys: [])
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { continue }
            let value = parts[1]
            switch parts[0] {
            case "recovery": recovery = value == "true"
            case "lsn": state.lsn = value
            case "timeline": state.timeline = Int(value)
            case "receiver":
                let words = value.split(separator: " ").map(String.init)
                state.receiver = words.first
                state.sender = words.count > 1 && words[1] != "-" ? words[1] : nil
            case "replay_delay": state.replayDelay = Int(value)
            case "standby":
                let words = value.split(separator: " ").map(String.init)
                guard words.count == 5 else { continue }
                state.standbys.append(Standby(name: words[0], state: words[1], syncState: words[2],
                                              lagBytes: Int(words[3]), lagSeconds: Double(words[4])))
            default: continue
            }
        }
        guard let recovery else { return nil }
        state.inRecovery = recovery
        return state
    }
}

/// The parts of pg_controldata pgha reads.
public struct ControlData: Sendable, Equatable {
    public var systemIdentifier: String
    /// "in production", "shut down", "shut down in recovery", "in crash recovery", "in archive recovery"…
    public var state: String
    public var timeline: Int?
    public var checkpoint: String
    public var minRecoveryEnd: String
    public var walLogHints: Bool
    public var checksums: Bool

    public static func parse(_ text: String) -> ControlData? {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            values[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        guard let id = values["Database system identifier"], let state = values["Database cluster state"] else { return nil }
        return ControlData(systemIdentifier: id, state: state, timeline: values["Latest checkpoint's TimeLineID"].flatMap { Int($0) },
                           checkpoint: values["Latest checkpoint location"] ?? "",
                           minRecoveryEnd: values["Minimum recovery ending location"] ?? "",
                           walLogHints: values["wal_log_hints setting"] == "on",
                           checksums: (values["Data page checksum version"] ?? "0") != "0")
    }
}

/// A WAL location (`X/Y`) as a number, for comparing and subtracting.
public struct LSN: Comparable, Sendable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16),
              high <= 0xFFFF_FFFF, low <= 0xFFFF_FFFF else { return nil }
        value = high << 32 | low
    }
    public var description: String { String(format: "%X/%X", UInt32(value >> 32), UInt32(value & 0xFFFF_FFFF)) }
    public static func < (a: LSN, b: LSN) -> Bool { a.value < b.value }
}
