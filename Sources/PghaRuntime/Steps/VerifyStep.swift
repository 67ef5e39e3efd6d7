import Foundation
import PghaShell
import PghaSpec

/// The bootstrap's last step: the clone promoted on one node and unpromoted on the others, the
/// VIPs with them, no failed operation, and (from the promoted node) every standby streaming.
public struct VerifyStep: Step {
    public let host: String
    public let name = "verify"
    public var dependsOn: [String] = []
    let spec: ClusterSpec
    let dialect: ClusterSpec.PcsDialect

    public init(host: String, spec: ClusterSpec, dialect: ClusterSpec.PcsDialect) {
        self.host = host
        self.spec = spec
        self.dialect = dialect
    }

    public var summary: String {
        var text = "wait until \(spec.pacemaker.pgsqlClone) is promoted on \(spec.primary), unpromoted on \(spec.standbys.map(\.name).joined(separator: ", ")), \(spec.vips.readWrite.ip) on \(spec.primary)"
        if let ro = spec.vips.readOnly { text += ", \(ro.ip) on a standby" }
        return text
    }

    /// The query ClusterStartStep reads too, kept as text: `problems` parses it.
    static let status = CrmMonStatus.probe
    /// application_name of each standby streaming from this server (SharedFacts.pg).
    var streaming: Probe<Set<String>> {
        Probe("pg.streaming-standbys", SharedFacts.pgValue("streaming"), reads: [SharedFacts.pg(spec)]) {
            Set($0.split(separator: "\n").map(String.init))
        }
    }

    public func probe(_ script: inout FactScript) {
        script.add(Self.status)
        script.add(streaming)
    }

    /// What is not yet as the spec says, given crm_mon's XML and the standbys streaming from this host.
    public func problems(_ xml: String, streaming streams: Set<String>) -> [String] {
        guard let status = CrmMonStatus.parse(xml) else { return ["crm_mon gave no status"] }
        let resource = spec.pacemaker.pgsqlResource
        let rw = spec.vips.readWrite.resource, ro = spec.vips.readOnly?.resource
        let standbys = spec.standbys.map(\.name)
        var problems: [String] = []
        let primaries = status.nodes(of: resource, role: dialect.promotedRole)
        if primaries != [spec.primary] && primaries.count != 1 {
            problems.append("\(resource) promoted on \(primaries.isEmpty ? "no node" : primaries.joined(separator: ", "))")
        }
        let standbyNodes = status.nodes(of: resource, role: dialect.unpromotedRole)
        if standbyNodes.count != standbys.count {
            problems.append("\(resource) unpromoted on \(standbyNodes.isEmpty ? "no node" : standbyNodes.joined(separator: ", ")), expected \(standbys.count)")
        }
        if status.nodes(of: rw, role: "Started") != primaries || primaries.isEmpty { problems.append("\(rw) is not with the primary") }
        if let ro, let node = status.nodes(of: ro, role: "Started").first, !standbyNodes.contains(node) { problems.append("\(ro) is not on a standby") }
        if let ro, status.nodes(of: ro, role: "Started").isEmpty { problems.append("\(ro) is not started") }
        for failure in status.failures { problems.append("failed \(failure.operation) on \(failure.node): \(failure.status) \(failure.reason)") }
        // Streaming is seen from the primary's pg_stat_replication: checked when this host is the promoted one.
        if primaries == [host] {
            let idle = standbyNodes.filter { !streams.contains($0) }
            if !idle.isEmpty { problems.append("\(idle.joined(separator: ", ")) not streaming from \(host)") }
        }
        return problems
    }

    public func decide(_ facts: Facts) throws -> Change? {
        let found = problems(facts[Self.status], streaming: facts[streaming])
        return found.isEmpty ? nil : Change(.update, "wait for the cluster: \(found.joined(separator: "; "))")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        // Bounded wait; the re-check after apply reports what is still wrong.
        var script = FactScript()
        probe(&script)
        var last: [String] = []
        for _ in 0..<180 {
            let now = try await Executor.facts(script, on: connection)
            last = problems(now[Self.status], streaming: now[streaming])
            if last.isEmpty { return }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
        throw fail("the cluster did not converge within 90 s: \(last.joined(separator: "; "))")
    }
}
