import Foundation
import PghaSpec

/// `pgha status` for the pgpool topology: the cluster judged from every node's `PgpoolProbes`
/// facts (nil: the node could not be reached). Pure: facts in, report out; unit-tested on facts
/// recorded on the test bed (Tests/Fixtures/status-pgpool/).
///
/// Health: `healthy` when pgpool runs on every node, the watchdog has its quorum and a leader
/// holding the delegate VIP, pgpool sends writes to a running primary and every other backend is
/// up and streaming from it; `down` when pgpool does not answer on the delegate VIP or has no
/// primary up; `degraded` otherwise.
public struct PgpoolReport: Sendable, Encodable, Equatable {
    public struct Node: Sendable, Encodable, Equatable {
        public var name: String
        public var address: String
        public var reachable: Bool
        public var pgpoolRunning: Bool
        /// The watchdog's state of this node (LEADER, STANDBY, LOST, …), from the view read.
        public var watchdog: String?
        /// This node as a backend of pgpool (the view read).
        public var backend: PgpoolBackend?
        public var postgres: ClusterReport.Postgres
        /// As the primary's pg_stat_replication reports this node; nil when it is not listed.
        public var replication: ClusterReport.Replication?
        public var holdsVIP: Bool
        public var problems: [String]
    }

    public var format = 1
    public var topology = "pgpool"
    public var cluster: String
    public var health: ClusterReport.Health
    public var summary: String
    /// pgpool's primary (the view read).
    public var primary: String?
    public var leader: String?
    public var vip: String
    public var vipHolder: String?
    public var vipAnswers: Bool
    public var quorum: Bool
    /// The node whose pgpool view was read (the watchdog leader when it answers).
    public var view: String?
    public var nodes: [Node]
    public var problems: [String]

    public var allProblems: [String] { problems + nodes.flatMap { node in node.problems.map { "\(node.name): \($0)" } } }

    public var exitStatus: Int32 { health.exitStatus }

    public static func evaluate(spec: ClusterSpec, pgpool: PgpoolSpec, facts: [String: Facts?], errors: [String: String] = [:]) -> PgpoolReport {
        let probes = PgpoolProbes(spec: spec, pgpool: pgpool)
        let node = NodeProbes(spec: spec)
        func name(_ address: String?) -> String? { address.map { a in spec.nodes.first { $0.address == a }?.name ?? a } }
        var problems: [String] = []

        // The view: the watchdog leader's pgpool when it answers, else the first that does.
        let answering = spec.nodes.filter { !((facts[$0.name] ?? nil)?[probes.backends].isEmpty ?? true) }.map(\.name)
        let leaders = spec.nodes.compactMap { n -> String? in (facts[n.name] ?? nil)?[probes.watchdog]?.leaderHost }
        let leader = name(leaders.first)
        let viewNode = answering.first { $0 == leader } ?? answering.first
        let viewFacts = viewNode.flatMap { facts[$0] ?? nil }
        let backends = viewFacts?[probes.backends] ?? []
        let watchdog = viewFacts?[probes.watchdog]
        if viewNode == nil { problems.append("no node's pgpool answers pcp on port \(pgpool.pcpPort) (pgpool is down everywhere, or no node is reachable)") }
        if Set(leaders).count > 1 { problems.append("the watchdogs name different leaders: \(Set(leaders.compactMap { name($0) }).sorted().joined(separator: ", "))") }
        if let watchdog, !watchdog.quorum { problems.append("the watchdog has no quorum: it does not fail over and may release the VIP") }
        if watchdog != nil && leader == nil { problems.append("the watchdog has no leader") }

        let primaries = backends.filter { $0.role == "primary" && $0.isUp }
        let primary = primaries.count == 1 ? name(primaries[0].address) : nil
        if primaries.count > 1 { problems.append("pgpool sends writes to more than one primary: \(primaries.compactMap { name($0.address) }.joined(separator: ", "))") }
        if primaries.isEmpty && viewNode != nil { problems.append("pgpool has no primary up: writes fail") }
        for other in answering where other != viewNode {
            let theirs = (facts[other] ?? nil)?[probes.backends].first { $0.role == "primary" && $0.isUp }.flatMap { name($0.address) }
            if theirs != primary { problems.append("pgpool on \(other) sees primary \(theirs ?? "none"), on \(viewNode!) \(primary ?? "none")") }
        }

        let holders = spec.nodes.filter { (facts[$0.name] ?? nil)?[node.addresses].contains(spec.vips.readWrite.ip) == true }.map(\.name)
        let vipAnswers = spec.nodes.contains { (facts[$0.name] ?? nil)?[probes.vipAnswers] == true }
        let vip = spec.vips.readWrite.ip
        if holders.count > 1 { problems.append("the delegate VIP \(vip) is configured on \(holders.joined(separator: " and "))") }
        if holders.isEmpty {
            problems.append(vipAnswers ? "the delegate VIP \(vip) answers, on a node pgha cannot read" : "the delegate VIP \(vip) is on no node: clients cannot connect")
        }
        else if !vipAnswers { problems.append("the delegate VIP \(vip) is on \(holders[0]) but pgpool does not answer on it (port \(pgpool.port))") }
        else if let leader, holders[0] != leader { problems.append("the delegate VIP \(vip) is on \(holders[0]), not on the watchdog leader \(leader)") }

        let primaryServer = primary.flatMap { (facts[$0] ?? nil)?[node.server] }
        if let primary, primaryServer?.inRecovery == true { problems.append("pgpool's primary \(primary) is in recovery (a standby): writes fail") }
        var nodes: [Node] = []
        for n in spec.nodes {
            let nodeFacts = facts[n.name] ?? nil
            var nodeProblems: [String] = []
            if nodeFacts == nil { nodeProblems.append("cannot be reached\(errors[n.name].map { ": \($0)" } ?? "")") }
            let running = nodeFacts?[probes.running] ?? false
            if nodeFacts != nil && !running { nodeProblems.append("pgpool does not run (systemctl start pgpool2, or pgha apply)") }
            let member = watchdog?.members.first { $0.host == n.address }
            if let member, member.status != "LEADER" && member.status != "STANDBY" { nodeProblems.append("the watchdog sees it \(member.status)") }
            else if watchdog != nil && member == nil { nodeProblems.append("not in the watchdog") }
            let backend = backends.first { $0.address == n.address }
            let server = nodeFacts?[node.server]
            let control = nodeFacts?[node.control]
            let postgres = ClusterReport.Postgres(running: server != nil, role: server.map { $0.inRecovery ? "standby" : "primary" },
                                                  timeline: server?.timeline ?? control?.timeline, lsn: server?.lsn,
                                                  controlState: server == nil ? control?.state : nil)
            let listed = primaryServer?.standbys.first { $0.name == n.name }
            let replication = listed.map { ClusterReport.Replication(state: $0.state, syncState: $0.syncState, lagBytes: $0.lagBytes, lagSeconds: $0.lagSeconds) }
            if let backend {
                if !backend.isUp {
                    nodeProblems.append("pgpool holds it \(backend.status)\(primary.map { " while \($0) is the primary" } ?? ""): pgha plan shows how it is brought back, pgha apply does it")
                }
                if n.name != primary {
                    if server?.inRecovery == false { nodeProblems.append("PostgreSQL runs as a primary, not a standby") }
                    if backend.isUp, let primary {
                        if let replication {
                            if replication.state != "streaming" { nodeProblems.append("replication from \(primary) is \(replication.state), not streaming") }
                            if let lag = replication.lagBytes, lag > ClusterReport.lagLimit { nodeProblems.append("lags \(bytes(lag)) behind \(primary)") }
                        } else {
                            nodeProblems.append("not streaming from \(primary)")
                        }
                    }
                }
            } else if viewNode != nil {
                nodeProblems.append("not a backend of pgpool")
            }
            nodes.append(Node(name: n.name, address: n.address, reachable: nodeFacts != nil, pgpoolRunning: running, watchdog: member?.status,
                              backend: backend, postgres: postgres, replication: replication, holdsVIP: holders.contains(n.name), problems: nodeProblems))
        }

        let everything = problems + nodes.flatMap(\.problems)
        let writable = vipAnswers && primary != nil && primaryServer?.inRecovery == false
        let health: ClusterReport.Health = !writable ? .down : (everything.isEmpty ? .healthy : .degraded)
        let standbys = nodes.filter { $0.name != primary }
        let streaming = standbys.filter { $0.replication?.state == "streaming" && $0.backend?.isUp == true }.count
        let s = everything.count == 1 ? "" : "s"
        let summary: String
        switch health {
        case .healthy: summary = "healthy: pgpool on \(vip) (leader \(leader ?? "?")), primary \(primary ?? "?"), \(streaming) of \(standbys.count) standbys up and streaming"
        case .degraded: summary = "degraded: pgpool on \(vip) sends writes to \(primary ?? "?"); \(streaming) of \(standbys.count) standbys up and streaming; \(everything.count) problem\(s)"
        case .down: summary = "down: no writes through pgpool on \(vip); \(everything.count) problem\(s)"
        }
        return PgpoolReport(cluster: spec.name, health: health, summary: summary, primary: primary, leader: leader, vip: vip,
                            vipHolder: holders.first, vipAnswers: vipAnswers, quorum: watchdog?.quorum ?? false, view: viewNode,
                            nodes: nodes, problems: problems)
    }
}
