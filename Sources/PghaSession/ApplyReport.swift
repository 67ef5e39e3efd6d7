import Foundation
import PghaRuntime
import PghaShell
import PghaSpec

/// What apply did: every step that ran, per-host counts, and the errors.
public struct ApplyReport: Codable, Sendable {
    public struct StepRecord: Codable, Sendable {
        public var host: String
        public var step: String
        /// changed, unchanged, failed, skipped
        public var outcome: String
        /// What it changed (its action), for a changed step.
        public var action: Action?
        public var message: String?
        public var seconds: Double?
        /// When it started, in seconds after the steps began.
        public var start: Double?
    }
    /// A phase's wall-clock span: from its first step's start to its last step's end (phases
    /// overlap: hosts work in parallel).
    public struct PhaseRecord: Codable, Sendable {
        public var phase: StepPhase
        public var start: Double
        public var seconds: Double
    }
    public struct HostSummary: Codable, Sendable {
        public var name: String
        public var changed = 0, unchanged = 0, failed = 0, skipped = 0
    }
    public var plan: LivePlan
    public var steps: [StepRecord]
    public var hosts: [HostSummary]
    public var ok: Bool
    public var seconds: Double
    /// Connecting, reading the facts and deciding, before the first step.
    public var planSeconds: Double?
    public var phases: [PhaseRecord] = []
    /// Stopped by Ctrl-C or SIGTERM; `stoppedCommands` process groups were signalled on the hosts.
    public var interrupted = false
    public var stoppedCommands = 0

    public init(plan: LivePlan, steps: [StepRecord], hosts: [HostSummary], ok: Bool, seconds: Double) {
        self.plan = plan
        self.steps = steps
        self.hosts = hosts
        self.ok = ok
        self.seconds = seconds
    }

    public static func make(plan: LivePlan, outcomes: [String: Outcome], steps: [any Step], spec: ClusterSpec,
                     records: [String: (seconds: Double, end: Double)], seconds: Double) -> ApplyReport {
        var report = ApplyReport(plan: plan, steps: [], hosts: [], ok: true, seconds: seconds)
        var spans: [StepPhase: (start: Double, end: Double)] = [:]
        for step in steps {
            guard let r = records[step.id] else { continue }
            let span = spans[step.phase]
            spans[step.phase] = (min(span?.start ?? .infinity, r.end - r.seconds), max(span?.end ?? 0, r.end))
        }
        report.phases = StepPhase.allCases.compactMap { phase in
            spans[phase].map { PhaseRecord(phase: phase, start: $0.start, seconds: $0.end - $0.start) }
        }
        for node in spec.nodes {
            var summary = HostSummary(name: node.name)
            for step in steps where step.host == node.name {
                let r = records[step.id]
                var record = StepRecord(host: step.host, step: step.name, outcome: "skipped", message: nil, seconds: r?.seconds,
                                        start: r.map { $0.end - $0.seconds })
                switch outcomes[step.id] {
                case .changed(let change)?:
                    summary.changed += 1; record.outcome = "changed"; record.action = change.action; record.message = change.summary
                case .unchanged?: summary.unchanged += 1; record.outcome = "unchanged"
                case .failed(let message)?: summary.failed += 1; record.outcome = "failed"; record.message = message
                case .skipped(let why)?: summary.skipped += 1; record.message = why
                case nil: summary.skipped += 1
                }
                report.steps.append(record)
            }
            if summary.failed > 0 { report.ok = false }
            report.hosts.append(summary)
        }
        return report
    }

    public func text() -> String {
        var out = "\n"
        for host in hosts {
            out += "\(host.name): \(host.changed) changed, \(host.unchanged) unchanged, \(host.failed) failed, \(host.skipped) skipped\n"
        }
        for step in steps where step.outcome == "failed" {
            out += "error: \(step.host): \(step.step): \(step.message ?? "")\n"
        }
        if interrupted {
            let done = steps.filter { $0.outcome == "changed" || $0.outcome == "unchanged" }.count
            out += String(format: "Apply INTERRUPTED after %.1f s: %d steps done, %d not (stopped %d running command%@ on the hosts). Re-run to continue from the hosts' state.\n",
                          seconds, done, steps.count - done, stoppedCommands, stoppedCommands == 1 ? "" : "s")
            return out
        }
        out += phaseText()
        out += String(format: "Apply %@ in %.1f s.\n", ok ? "complete" : "FAILED", seconds)
        return out
    }

    /// "Time per phase: …", each phase from its first step's start to its last step's end.
    public func phaseText() -> String {
        guard !phases.isEmpty else { return "" }
        var parts = planSeconds.map { [String(format: "plan %.1f s", $0)] } ?? []
        parts += phases.map { String(format: "%@ %.1f s (at %.1f s)", $0.phase.rawValue, $0.seconds, $0.start) }
        return "Time per phase: " + parts.joined(separator: ", ") + ".\n"
    }

    /// The slowest steps, for `apply -v`.
    public func slowestText(count: Int = 10) -> String {
        let timed = steps.filter { $0.seconds != nil && $0.outcome != "skipped" }.sorted { $0.seconds! > $1.seconds! }.prefix(count)
        guard !timed.isEmpty else { return "" }
        return "Slowest steps:\n" + timed.map { String(format: "  %6.1f s  %@ %@ (at %.1f s)", $0.seconds!, $0.host, $0.step, $0.start ?? 0) }
            .joined(separator: "\n") + "\n"
    }
}

extension LiveSession {
    /// One line on the cluster as its own tools see it: where the primary is, and each standby's
    /// replication state as the primary reports it (the promoted node may not be the first one).
    public func clusterStatus() async -> String? {
        let session = self
        let spec = session.loaded.spec
        if let pgpool = spec.pgpool { return await pgpoolStatus(pgpool) }
        guard let any = session.connections[spec.primary] ?? session.connections.values.first,
              let xml = try? await any.run(CrmMonStatus.query).stdout,
              let status = CrmMonStatus.parse(xml) else { return nil }
        let promotedRole = session.loaded.dialect.promotedRole
        let resource = spec.pacemaker.pgsqlResource
        guard let primary = status.nodes(of: resource, role: promotedRole).first else { return "Cluster: \(resource) is promoted nowhere yet." }
        let ro = spec.vips.readOnly.flatMap { vip in status.nodes(of: vip.resource, role: "Started").first.map { (vip, $0) } }
        var replication: [String: String] = [:]
        let pg = spec.postgresql
        if let connection = session.connections[primary],
           let rows = try? await connection.run(pg.tools.psql("select application_name, state, sync_state from pg_stat_replication", options: ["-F", " "]), stdin: nil).stdout {
            for line in rows.split(separator: "\n") {
                let f = line.split(separator: " ").map(String.init)
                if f.count == 3 { replication[f[0]] = "\(f[1]) \(f[2])" }
            }
        }
        let standbys = spec.nodes.map(\.name).filter { $0 != primary }.map { node in
            "\(node) \(replication[node] ?? "not streaming")" + (ro?.1 == node ? " (ro VIP \(ro!.0.ip))" : "")
        }
        return "Cluster: primary \(primary) (rw VIP \(spec.vips.readWrite.ip)); standbys: \(standbys.joined(separator: ", "))."
    }

    /// Topology pgpool: pgpool-II's view of the backends (PgpoolProbes.backends, read on one
    /// node) and which node holds the delegate VIP (NodeProbes.addresses of each).
    func pgpoolStatus(_ pgpool: PgpoolSpec) async -> String? {
        let spec = loaded.spec
        guard let any = connections[spec.primary] ?? connections.values.first else { return nil }
        let probes = PgpoolProbes(spec: spec, pgpool: pgpool), node = NodeProbes(spec: spec)
        func read<Value>(_ probe: Probe<Value>, on connection: any HostConnection) async -> Value? {
            var script = FactScript()
            script.add(probe)
            return (try? await Executor.facts(script, on: connection)).map { $0[probe] }
        }
        guard let backends = await read(probes.backends, on: any) else { return nil }
        var primary = "none", standbys: [String] = []
        for backend in backends {
            guard let node = spec.nodes.first(where: { $0.address == backend.address }) else { continue }
            if backend.role == "primary" { primary = node.name } else { standbys.append("\(node.name) \(backend.status)\(backend.replicationState.map { " " + $0 } ?? "")") }
        }
        var holder = "no node"
        for member in spec.nodes {
            guard let connection = connections[member.name] else { continue }
            if await read(node.addresses, on: connection)?.contains(spec.vips.readWrite.ip) == true { holder = member.name; break }
        }
        return "Cluster (pgpool-II): primary \(primary); standbys: \(standbys.joined(separator: ", ")); delegate VIP \(spec.vips.readWrite.ip) on \(holder)."
    }
}
