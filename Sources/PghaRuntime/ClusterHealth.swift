import Foundation
import PghaSpec

/// `pgha status`: the cluster judged from every node's `NodeProbes` facts (nil: the node could
/// not be reached). Pure: facts in, report out; unit-tested on facts recorded on the test bed.
///
/// Health: `healthy` when every node of the spec is as it should be (one primary behind the rw
/// VIP, every other node an unpromoted standby streaming from it, no lock file, failure, fail
/// count or leftover ban); `down` when no writable primary answers behind the rw VIP;
/// `degraded` otherwise (writes are served, something needs attention).
public struct ClusterReport: Sendable, Encodable, Equatable {
    public enum Health: String, Sendable, Encodable {
        case healthy, degraded, down

        /// The exit status of `pgha status`: 0 healthy, 2 degraded, 3 down.
        public var exitStatus: Int32 {
            switch self {
            case .healthy: return 0
            case .degraded: return 2
            case .down: return 3
            }
        }
    }

    public struct Replication: Sendable, Encodable, Equatable {
        public var state: String
        public var syncState: String
        public var lagBytes: Int?
        public var lagSeconds: Double?
    }

    public struct Postgres: Sendable, Encodable, Equatable {
        public var running: Bool
        /// "primary" or "standby" as PostgreSQL reports itself (pg_is_in_recovery); nil when not running.
        public var role: String?
        public var timeline: Int?
        public var lsn: String?
        /// pg_controldata's state of a stopped server ("in production" after a crash, "shut down"…).
        public var controlState: String?
    }

    public struct Node: Sendable, Encodable, Equatable {
        public var name: String
        public var address: String
        public var reachable: Bool
        /// online, standby, maintenance, offline, unclean (lost, to be fenced), pending, unknown.
        public var membership: String
        /// The pgsql resource's role on this node as Pacemaker sees it (Promoted/Master, Unpromoted/Slave, Stopped).
        public var pacemakerRole: String
        public var postgres: Postgres
        /// As the primary's pg_stat_replication reports this node; nil when it is not listed.
        public var replication: Replication?
        public var lockFile: LockFile?
        /// The pgsql agent's node attributes (pgsql-status, pgsql-data-status, master-pgsql…).
        public var attributes: [String: String]
        public var failCounts: [String: String]
        public var failedActions: [String]
        /// Addresses of the spec's VIPs held by this node.
        public var vips: [String]
        public var problems: [String]
    }

    public struct VIP: Sendable, Encodable, Equatable {
        public var name: String
        public var ip: String
        public var resource: String
        /// Where the address is configured (from the nodes' interfaces).
        public var node: String?
        /// Whether PostgreSQL answered on it from any reachable node.
        public var answers: Bool
    }

    /// The JSON document's version; a field removed or changed in meaning raises it.
    public var format = 1
    public var cluster: String
    public var health: Health
    public var summary: String
    public var primary: String?
    /// The node whose Pacemaker view was read (the first reachable one with quorum).
    public var view: String?
    public var quorate: Bool
    public var nodes: [Node]
    public var vips: [VIP]
    /// Cluster-wide problems (the node's own are in `nodes[].problems`).
    public var problems: [String]

    /// Every problem, cluster-wide first, each node's prefixed with its name.
    public var allProblems: [String] { problems + nodes.flatMap { node in node.problems.map { "\(node.name): \($0)" } } }

    /// The exit status of `pgha status`: 0 healthy, 2 degraded, 3 down.
    public var exitStatus: Int32 { health.exitStatus }

    /// A standby further behind than this (bytes of WAL not replayed) is reported as lagging.
    public static let lagLimit = 16 * 1024 * 1024
}

extension ClusterReport {
    public static func evaluate(spec: ClusterSpec, dialect: ClusterSpec.PcsDialect, facts: [String: Facts?],
                                errors: [String: String] = [:]) -> ClusterReport {
        let probes = NodeProbes(spec: spec)
        let resource = spec.pacemaker.pgsqlResource
        var problems: [String] = []

        // Pacemaker's view: the first reachable node with quorum, else the first with any view.
        var views: [(String, CrmMonStatus)] = []
        for node in spec.nodes {
            if let nodeFacts = facts[node.name] ?? nil, let status = nodeFacts[probes.cluster] { views.append((node.name, status)) }
        }
        let chosen = views.first { $0.1.quorate } ?? views.first
        let view = chosen?.1
        if view == nil { problems.append("no node reports a running cluster (Pacemaker is down everywhere, or no node is reachable)") }
        else if view?.quorate == false { problems.append("\(chosen!.0) has no quorum: Pacemaker stops the resources there") }

        let promoted = view.map { status in
            status.promoted(resource)
        } ?? []
        if promoted.count > 1 { problems.append("\(resource) is promoted on \(promoted.joined(separator: " and "))") }
        if promoted.isEmpty && view != nil { problems.append("\(resource) is promoted nowhere") }
        let primary = promoted.count == 1 ? promoted[0] : nil
        let primaryServer: ServerState? = primary.flatMap { (facts[$0] ?? nil)?[probes.server] }

        // The VIPs: where the addresses are, and whether PostgreSQL answers on them.
        var vips: [VIP] = []
        let vipSpecs = [("rw", spec.vips.readWrite)] + (spec.vips.readOnly.map { [("ro", $0)] } ?? [])
        for (name, vip) in vipSpecs {
            let holders = spec.nodes.filter { (facts[$0.name] ?? nil)?[probes.addresses].contains(vip.ip) == true }.map(\.name)
            let answers = spec.nodes.contains { (facts[$0.name] ?? nil)?[probes.vipAnswers][vip.ip] == true }
            vips.append(VIP(name: name, ip: vip.ip, resource: vip.resource, node: holders.first, answers: answers))
            if holders.count > 1 { problems.append("\(vip.ip) (\(name) VIP) is configured on \(holders.joined(separator: " and "))") }
        }
        let rw = vips[0]
        var writable = false
        if let holder = rw.node {
            let server = (facts[holder] ?? nil)?[probes.server]
            writable = rw.answers && server != nil && server?.inRecovery == false
            if server == nil { problems.append("the rw VIP \(rw.ip) is on \(holder), where PostgreSQL does not run") }
            else if server?.inRecovery == true { problems.append("the rw VIP \(rw.ip) is on \(holder), a standby: writes fail") }
            else if !rw.answers { problems.append("the rw VIP \(rw.ip) is on \(holder) but PostgreSQL does not answer on it") }
            else if let primary, primary != holder { problems.append("the rw VIP \(rw.ip) is on \(holder), not with \(resource)'s promoted instance on \(primary)") }
        } else {
            problems.append("the rw VIP \(rw.ip) is on no node: no writes")
        }
        if vips.count > 1 {
            let ro = vips[1]
            if ro.node == nil { problems.append("the ro VIP \(ro.ip) is on no node") }
            else if !ro.answers { problems.append("the ro VIP \(ro.ip) is on \(ro.node!) but PostgreSQL does not answer on it") }
        }
        for ban in view?.bans ?? [] {
            problems.append("constraint \(ban.id) keeps \(ban.resource) \(ban.weight.hasPrefix("-") ? "off" : "on") \(ban.node) (left by pcs resource move/ban; pcs resource clear \(ban.resource))")
        }
        if spec.replication.mode == .sync, let primaryServer,
           !primaryServer.standbys.contains(where: { $0.syncState == "sync" || $0.syncState == "quorum" }) {
            problems.append("no standby is synchronous (replication mode sync)")
        }

        var nodes: [Node] = []
        for node in spec.nodes {
            let nodeFacts = facts[node.name] ?? nil
            var nodeProblems: [String] = []
            let member = view?.nodes.first { $0.name == node.name }
            let membership: String
            switch member {
            case nil: membership = view == nil ? "unknown" : "not a member"
            case let m? where m.unclean: membership = "unclean"
            case let m? where !m.online: membership = "offline"
            case let m? where m.pending: membership = "pending"
            case let m? where m.standby: membership = "standby"
            case let m? where m.maintenance: membership = "maintenance"
            default: membership = "online"
            }
            if nodeFacts == nil { nodeProblems.append("cannot be reached\(errors[node.name].map { ": \($0)" } ?? "")") }
            switch membership {
            case "online", "unknown": break
            case "not a member": nodeProblems.append("is not a member of the cluster")
            case "unclean": nodeProblems.append("was lost and is not fenced yet")
            default: nodeProblems.append("is \(membership) in the cluster")
            }
            let instance = view?.instances.first { $0.resource == resource && $0.node == node.name }
            let role = instance?.role ?? "Stopped"
            let server = nodeFacts?[probes.server]
            let control = nodeFacts?[probes.control]
            let postgres = Postgres(running: server != nil, role: server.map { $0.inRecovery ? "standby" : "primary" },
                                    timeline: server?.timeline ?? control?.timeline, lsn: server?.lsn,
                                    controlState: server == nil ? control?.state : nil)
            let listed = primaryServer?.standbys.first { $0.name == node.name }
            let replication = listed.map { Replication(state: $0.state, syncState: $0.syncState, lagBytes: $0.lagBytes, lagSeconds: $0.lagSeconds) }
            let lock = nodeFacts?[probes.lockFile]
            let attributes = view?.attributes[node.name] ?? [:]
            let failCounts = view?.failCounts[node.name] ?? [:]
            let failed = (view?.failures ?? []).filter { $0.node == node.name }.map { failure in
                "\(failure.operation): \(failure.status)\(failure.reason.isEmpty ? "" : " (\(failure.reason))")"
            }
            let held = vipSpecs.map(\.1.ip).filter { nodeFacts?[probes.addresses].contains($0) == true }

            if node.name == primary {
                if server?.inRecovery == true { nodeProblems.append("promoted by Pacemaker but PostgreSQL is in recovery") }
            } else if nodeFacts != nil || member?.online == true {
                if CrmMonStatus.unpromotedRoles.contains(role) && instance?.failed != true {
                    if server?.inRecovery == false { nodeProblems.append("PostgreSQL runs as a primary, not a standby") }
                    if let primary {
                        if let replication {
                            if replication.state != "streaming" { nodeProblems.append("replication from \(primary) is \(replication.state), not streaming") }
                            if let lag = replication.lagBytes, lag > Self.lagLimit { nodeProblems.append("lags \(bytes(lag)) behind \(primary)") }
                        } else {
                            nodeProblems.append("not streaming from \(primary)")
                        }
                    }
                } else if !CrmMonStatus.promotedRoles.contains(role) || instance?.failed == true {
                    nodeProblems.append("\(resource) is \(instance?.failed == true ? "failed" : role.lowercased()) here\(server == nil ? "" : " (but PostgreSQL runs)")")
                }
                if lock == .present { nodeProblems.append("the agent's lock file \(spec.pacemaker.tmpdir ?? "")/PGSQL.lock is here: the agent will not start PostgreSQL (the node was a primary that did not stop cleanly)") }
            }
            if lock == .link { nodeProblems.append("\(spec.pacemaker.tmpdir ?? "")/PGSQL.lock is a symbolic link") }
            for failure in failed { nodeProblems.append("failed \(failure)") }
            if !failCounts.isEmpty && failed.isEmpty {
                nodeProblems.append("fail count \(failCounts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")
            }
            nodes.append(Node(name: node.name, address: node.address, reachable: nodeFacts != nil, membership: membership,
                              pacemakerRole: instance?.failed == true ? "FAILED \(role)" : role, postgres: postgres, replication: replication, lockFile: lock,
                              attributes: attributes, failCounts: failCounts, failedActions: failed, vips: held, problems: nodeProblems))
        }

        let everything = problems + nodes.flatMap(\.problems)
        let health: Health = !writable ? .down : (everything.isEmpty ? .healthy : .degraded)
        let standbys = nodes.filter { $0.name != primary }
        let streaming = standbys.filter { $0.replication?.state == "streaming" }.count
        var summary: String
        switch health {
        case .healthy: summary = "healthy: primary \(primary ?? "?") behind \(rw.ip), \(streaming) of \(standbys.count) standbys streaming"
        case .degraded: summary = "degraded: primary \(primary ?? rw.node ?? "?") serves writes on \(rw.ip); \(streaming) of \(standbys.count) standbys streaming; \(everything.count) problem\(everything.count == 1 ? "" : "s")"
        case .down: summary = "down: no writable primary behind \(rw.ip); \(everything.count) problem\(everything.count == 1 ? "" : "s")"
        }
        return ClusterReport(cluster: spec.name, health: health, summary: summary, primary: primary, view: chosen?.0,
                             quorate: view?.quorate ?? false, nodes: nodes, vips: vips, problems: problems)
    }
}

public func bytes(_ count: Int) -> String {
    if count >= 1 << 30 { return String(format: "%.1f GiB", Double(count) / Double(1 << 30)) }
    if count >= 1 << 20 { return String(format: "%.1f MiB", Double(count) / Double(1 << 20)) }
    if count >= 1 << 10 { return String(format: "%.1f KiB", Double(count) / Double(1 << 10)) }
    return "\(count) bytes"
}
