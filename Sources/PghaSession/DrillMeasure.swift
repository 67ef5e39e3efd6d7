import Foundation
import PghaRuntime
import PghaShell
import PghaSpec

/// The pure half of `pgha drill`: what it may break, on which node, the writer and reader it
/// runs on a host, how their logs read, and what a round measured. Hosts are Drill's.
public enum DrillFault: String, CaseIterable, Sendable, Encodable {
    /// SIGKILL to the postmaster: the agent's monitor finds it dead, Pacemaker fails over.
    case killPostgres = "kill-postgres"
    /// SIGKILL to corosync: the node leaves the membership and the others fence it.
    case killCorosync = "kill-corosync"
    /// `pcs stonith fence NODE`, run on another node: the cluster's own power path.
    case fence
    /// `pcs cluster stop NODE`: Pacemaker stops what runs there first (a clean failover).
    case stopNode = "stop-node"

    /// Whether the fault needs fencing configured: without it a node that left the membership
    /// may still run PostgreSQL and hold the VIP (two primaries).
    public var needsFencing: Bool { self == .killCorosync || self == .fence }

    public var describes: String {
        switch self {
        case .killPostgres: return "SIGKILL to the postmaster"
        case .killCorosync: return "SIGKILL to corosync (the node is fenced)"
        case .fence: return "pcs stonith fence"
        case .stopNode: return "pcs cluster stop"
        }
    }
}

/// One line of a drill host's log. The writer prints `ack ID START END` or `err ID START END`
/// (seconds since the epoch, on the writer host's clock), Drill adds `fault TIME` just before
/// it causes the fault; the reader prints `up TIME` or `down TIME`. A host's log is as
/// untrusted as anything read from a host: lines of any other shape are dropped.
public enum DrillEvent: Equatable, Sendable {
    case ack(id: Int, start: Double, end: Double)
    case err(id: Int, start: Double, end: Double)
    case fault(Double)
    case up(Double)
    case down(Double)

    public static func parse(_ text: String) -> [DrillEvent] {
        text.split(separator: "\n").compactMap { line in
            let w = line.split(separator: " ").map(String.init)
            func time(_ s: String) -> Double? {
                guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let t = Double(s), t.isFinite else { return nil }
                return t
            }
            switch (w.first, w.count) {
            case ("ack", 4), ("err", 4):
                guard let id = Int(w[1]), id > 0, let start = time(w[2]), let end = time(w[3]), end >= start else { return nil }
                return w[0] == "ack" ? .ack(id: id, start: start, end: end) : .err(id: id, start: start, end: end)
            case ("fault", 2): return time(w[1]).map { .fault($0) }
            case ("up", 2): return time(w[1]).map { .up($0) }
            case ("down", 2): return time(w[1]).map { .down($0) }
            default: return nil
            }
        }
    }
}

/// What the writer and reader logs of one round say, measured from the fault.
public struct DrillTimes: Equatable, Sendable {
    /// From the fault until a write through the rw VIP was acknowledged again after the
    /// writes failed (nil: none was; about 0 when no write failed).
    public var writeRecovery: Double?
    /// From the last write acknowledged before the writes failed to the first after (0: none failed).
    public var writeGap: Double?
    /// Writes that failed during the outage.
    public var failedWrites: Int
    /// From the fault until the ro VIP answered again; 0 when it never stopped answering;
    /// nil when it stopped and did not answer again within the round.
    public var readRecovery: Double?
    /// Every id the writer had acknowledged, in order.
    public var acknowledged: [Int]

    public static func measure(writes: [DrillEvent], reads: [DrillEvent]) -> DrillTimes? {
        guard let fault = writes.lazy.compactMap({ if case .fault(let t) = $0 { return t } else { return nil } }).first else { return nil }
        // The outage begins with the first write after the fault that failed (a fence may take a
        // moment to cut the node off: writes acknowledged until then are not "back"); it ends
        // with the first write started after that failure that was acknowledged.
        var acked: [Int] = [], failed = 0
        var outage: Double?
        for case let .err(_, start, _) in writes where start >= fault { outage = min(outage ?? start, start) }
        var lastBefore: Double?, firstAfter: Double?
        for event in writes {
            switch event {
            case let .ack(id, start, end):
                acked.append(id)
                if let outage {
                    if start < outage { lastBefore = max(lastBefore ?? end, end) }   // attempts overlap: any order
                    if start >= outage, firstAfter == nil || end < firstAfter! { firstAfter = end }
                } else if start >= fault, firstAfter == nil || end < firstAfter! {
                    firstAfter = end
                }
            case let .err(_, start, _):
                if let outage, start >= outage, firstAfter == nil || start < firstAfter! { failed += 1 }
            default: break
            }
        }
        if outage == nil { lastBefore = firstAfter }   // never interrupted: no gap
        var read: Double? = 0
        let after = reads.compactMap { event -> (Double, Bool)? in
            switch event {
            case .up(let t) where t >= fault: return (t, true)
            case .down(let t) where t >= fault: return (t, false)
            default: return nil
            }
        }.sorted { $0.0 < $1.0 }
        if let down = after.first(where: { !$0.1 }) {
            read = after.first(where: { $0.1 && $0.0 > down.0 }).map { $0.0 - fault }
        }
        return DrillTimes(writeRecovery: firstAfter.map { max(0, $0 - fault) },
                          writeGap: firstAfter.flatMap { after in lastBefore.map { max(0, after - $0) } },
                          failedWrites: failed, readRecovery: read, acknowledged: acked.sorted())
    }
}

/// min / median / max of one measure over the rounds that have it.
public struct DrillSpread: Equatable, Sendable, Encodable {
    public var min: Double
    public var median: Double
    public var max: Double
    public var count: Int

    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        self.min = sorted[0]
        self.max = sorted[sorted.count - 1]
        self.median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        self.count = sorted.count
    }
}

/// Which node a drill breaks and where its writer runs, from the status before the round.
public enum DrillPlan {
    /// `primary`, `standby` (the one holding the ro VIP, else the first streaming one) or a node name.
    public static func target(_ report: ClusterReport, node: String) throws -> String {
        switch node {
        case "primary":
            guard let primary = report.primary else { throw SessionFailure(["error: no primary to break"]) }
            return primary
        case "standby":
            let standbys = report.nodes.filter { $0.name != report.primary && $0.replication?.state == "streaming" }
            let ro = report.vips.first { $0.name == "ro" }?.node
            guard let pick = standbys.first(where: { $0.name == ro }) ?? standbys.first else { throw SessionFailure(["error: no streaming standby to break"]) }
            return pick.name
        default:
            guard report.nodes.contains(where: { $0.name == node }) else {
                throw SessionFailure(["error: '\(node)' is not a node of cluster \(report.cluster) (\(report.nodes.map(\.name).joined(separator: ", "))); use primary, standby or a node's name"])
            }
            return node
        }
    }

    /// The node the writer and reader run on: not the one broken, a standby when there is one
    /// (pg_hba lets the replication role in from node addresses; on the primary itself the
    /// connection to the rw VIP would come from the VIP).
    public static func writerHost(_ report: ClusterReport, target: String) -> String? {
        let others = report.nodes.map(\.name).filter { $0 != target }
        return others.first { $0 != report.primary } ?? others.first
    }
}

/// The programs a drill runs on the writer host, as the PostgreSQL OS user (its ~/.pgpass
/// holds the replication role's password: no secret travels). Each loops until `DIR/stop`
/// exists or DIR is gone, under `timeout` so it ends by itself whatever happens to pgha.
public struct DrillScripts: Sendable {
    public let spec: ClusterSpec
    public let directory: String
    public let round: Int

    public static let table = "public.pgha_drill"
    public static let maxSeconds = 900

    public init(spec: ClusterSpec, directory: String, round: Int) {
        self.spec = spec
        self.directory = directory
        self.round = round
    }

    var tools: PostgresTools { spec.postgresql.tools }
    var user: String { spec.postgresql.osUser.name }

    /// A private directory for the round's logs (mkdir fails on anything already there).
    public var prepare: Command { Command(["mkdir", "-m", "700", directory], user: user) }

    /// One insert started every 0.1 s through the rw VIP, each acknowledged id logged with its
    /// times. Attempts overlap (at most 30 at once): while the VIP has no server behind it a
    /// connection attempt can hang for libpq's minimum connect timeout (2 s), and one write at
    /// a time would see the recovery only when the attempt in hand gives up — up to 2 s late.
    public var writer: Shell {
        let psql = Command([tools.binDir + "/psql", "-X", "-q", "-h", spec.vips.readWrite.ip, "-p", String(tools.port),
                            "-U", spec.replication.user, "-d", "postgres"])
        let sql = "insert into \(Self.table) values (\(round), "
        let loop: Shell = """
            cd \(directory) || exit 1
            i=0
            while [ -d \(directory) ] && [ ! -e stop ]; do
              i=$((i+1))
              ( t0=$(date +%s.%N)
                if PGCONNECT_TIMEOUT=2 PGOPTIONS='-c statement_timeout=2000' \(psql) -c \(sql)"$i)" >/dev/null 2>last-error; then
                  echo "ack $i $t0 $(date +%s.%N)"
                else
                  echo "err $i $t0 $(date +%s.%N)"
                fi >> writes ) &
              sleep 0.1
              while [ "$(jobs -rp | wc -l)" -ge 30 ]; do sleep 0.05; done
            done
            wait
            """
        return detached(loop)
    }

    /// pg_isready on the ro VIP every 0.1 s (nothing when the spec has no ro VIP).
    public var reader: Shell? {
        guard let ro = spec.vips.readOnly else { return nil }
        let ready = Command([tools.binDir + "/pg_isready", "-q", "-h", ro.ip, "-p", String(tools.port), "-t", "1"])
        let loop: Shell = """
            cd \(directory) || exit 1
            while [ -d \(directory) ] && [ ! -e stop ]; do
              t0=$(date +%s.%N)
              if \(ready); then echo "up $t0"; else echo "down $t0"; fi
              sleep 0.1
            done >> reads
            """
        return detached(loop)
    }

    /// In a session of its own, its output nowhere (the connection's channel closes at once).
    func detached(_ loop: Shell) -> Shell {
        "\(Command(["setsid", "-f", "timeout", String(Self.maxSeconds), "bash", "-c", loop.text], user: user)) >/dev/null 2>&1 </dev/null"
    }

    /// The fault's moment on the writer host's clock, written just before the fault.
    public var markFault: Command { Command(["bash", "-c", "echo \"fault $(date +%s.%N)\" >> writes"], user: user, directory: directory) }
    public var stop: Command { Command(["touch", directory + "/stop"], user: user) }
    public var readWrites: Command { Command(["cat", directory + "/writes"], user: user) }
    public var readReads: Command { Command(["cat", directory + "/reads"], user: user) }
    public var lastError: Command { Command(["cat", directory + "/last-error"], user: user) }
    public var remove: Command { Command(["rm", "-rf", "--one-file-system", directory], user: user) }

    /// The drill's table, made anew on the primary (the replication role writes it), and gone again.
    public static func createTable(_ spec: ClusterSpec) -> Command {
        let sql = """
            DROP TABLE IF EXISTS \(table);
            CREATE TABLE \(table) (round int, id int, at timestamptz default clock_timestamp(), PRIMARY KEY (round, id));
            GRANT SELECT, INSERT ON \(table) TO \(sqlIdentifier(spec.replication.user));
            """
        return spec.postgresql.tools.psqlCommand.appending("-v", "ON_ERROR_STOP=1", "-q", "-f", "-").feeding(Data(sql.utf8))
    }

    public static func dropTable(_ spec: ClusterSpec) -> Command {
        spec.postgresql.tools.psqlCommand.appending("-v", "ON_ERROR_STOP=1", "-q", "-c", "DROP TABLE IF EXISTS \(table)")
    }

    /// The ids of round `round` present on a server.
    public static func present(_ spec: ClusterSpec, round: Int) -> Command {
        spec.postgresql.tools.psqlCommand.appending("-c", "select id from \(table) where round = \(round) order by id")
    }

    /// The fault, as the command to run and the node to run it on (`on`: the target itself, or
    /// for `fence` another member, since a node cannot fence itself).
    public static func fault(_ fault: DrillFault, spec: ClusterSpec, target: String, from other: String) -> (on: String, command: Shell) {
        switch fault {
        case .killPostgres:
            // The postmaster's PID from its own file: only digits, and only a process named postgres.
            let pidFile = spec.postgresql.dataDir + "/postmaster.pid"
            return (target, """
                pid=$(head -1 \(pidFile)); case "$pid" in ''|*[!0-9]*) echo "no postmaster PID in \(pidFile)" >&2; exit 1;; esac
                [ "$(ps -o comm= -p "$pid")" = postgres ] || { echo "process $pid is not postgres" >&2; exit 1; }
                kill -KILL "$pid"
                """)
        case .killCorosync:
            return (target, "pkill -KILL -x corosync")
        case .fence:
            return (other, "\(Command("pcs", "stonith", "fence", target))")
        case .stopNode:
            return (target, "\(Command("pcs", "cluster", "stop", target))")
        }
    }
}
