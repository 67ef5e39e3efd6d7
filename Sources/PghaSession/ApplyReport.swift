import Foundation
import PghaRuntime
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
                     records: [String: Double], seconds: Double) -> ApplyReport {
        var report = ApplyReport(plan: plan, steps: [], hosts: [], ok: true, seconds: seconds)
        for node in spec.nodes {
            var summary = HostSummary(name: node.name)
            for step in steps where step.host == node.name {
                var record = StepRecord(host: step.host, step: step.name, outcome: "skipped", message: nil, seconds: records[step.id])
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
        out += String(format: "Apply %@ in %.1f s.\n", ok ? "complete" : "FAILED", seconds)
        return out
    }
}

extension LiveSession {
    /// One line on the cluster as its own tools see it: where the primary is, and each standby's
    /// replication state as the primary reports it (the promoted node may not be the first one).
    public func clusterStatus() async -> String? {
        let session = self
        let spec = session.loaded.spec
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
}
