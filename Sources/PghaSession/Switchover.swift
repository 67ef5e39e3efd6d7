import Foundation
import PghaRuntime
import PghaShell
import PghaSpec

/// `pgha switchover`: the promoted role moved to a streaming standby with Pacemaker, no
/// committed transaction lost (the old primary stops cleanly, its last WAL reaches the
/// standbys before the new one is promoted), the temporary constraint removed afterwards, and
/// the old primary made a standby again by the rejoin step (without a rebuild: its data is
/// behind the new timeline's start; were it not, pgha stops and says so).
public enum Switchover {
    /// The target: the one named, or the best standby (synchronous first, then least lag).
    /// Refused unless the cluster is healthy and the target streams. Pure.
    public static func choose(_ report: ClusterReport, to named: String?) throws -> (from: String, to: String) {
        guard report.health == .healthy, let primary = report.primary else {
            throw SessionFailure(["error: the cluster is not healthy (\(report.summary)); a switchover needs every node as it should be:"]
                + report.allProblems.map { "  \($0)" } + ["Repair it first: pgha plan, then pgha apply."])
        }
        let standbys = report.nodes.filter { $0.name != primary }
        if let named {
            guard let node = report.nodes.first(where: { $0.name == named }) else {
                throw SessionFailure(["error: '\(named)' is not a node of cluster \(report.cluster) (\(report.nodes.map(\.name).joined(separator: ", ")))"])
            }
            guard node.name != primary else { throw SessionFailure(["error: \(named) is the primary already; nothing to switch"]) }
            guard node.replication?.state == "streaming" else {
                throw SessionFailure(["error: \(named) does not stream from \(primary) (\(node.replication?.state ?? "not connected")); it cannot take over without losing data"])
            }
            return (primary, named)
        }
        let candidates = standbys.filter { $0.replication?.state == "streaming" }.sorted { a, b in
            let syncA = a.replication?.syncState == "sync" || a.replication?.syncState == "quorum"
            let syncB = b.replication?.syncState == "sync" || b.replication?.syncState == "quorum"
            if syncA != syncB { return syncA }
            let lagA = a.replication?.lagBytes ?? Int.max, lagB = b.replication?.lagBytes ?? Int.max
            return lagA != lagB ? lagA < lagB : a.name < b.name
        }
        guard let best = candidates.first else { throw SessionFailure(["error: no standby streams from \(primary)"]) }
        return (primary, best.name)
    }

    /// Pacemaker's move of a promotable clone's promoted role (crm_resource: the same on every
    /// pcs generation; Pacemaker 2.1 says --promoted, older ones --master).
    static func move(_ spec: ClusterSpec, to node: String, dialect: ClusterSpec.PcsDialect) -> Command {
        Command("crm_resource", "--move", "--resource", spec.pacemaker.pgsqlClone, "--node", node,
                dialect >= .v0_11 ? "--promoted" : "--master")
    }

    static func ban(_ spec: ClusterSpec, _ node: String, dialect: ClusterSpec.PcsDialect) -> Command {
        Command("crm_resource", "--ban", "--resource", spec.pacemaker.pgsqlClone, "--node", node,
                dialect >= .v0_11 ? "--promoted" : "--master")
    }

    /// Every constraint the move and the ban made (cli-prefer-…, cli-ban-…).
    static func clear(_ spec: ClusterSpec) -> Command {
        Command("crm_resource", "--clear", "--resource", spec.pacemaker.pgsqlClone)
    }

    public struct Outcome: Sendable {
        public var from: String
        public var to: String
        /// From the move until the new primary accepted writes behind the rw VIP (an upper bound of the write gap).
        public var writeGap: Double
        public var seconds: Double
        public var report: ClusterReport
    }

    /// Carries it out on an open session (which holds the apply lock). `say` prints progress.
    public static func run(_ session: LiveSession, from: String, to: String, say: @escaping @Sendable (String) -> Void) async throws -> Outcome {
        let started = Date()
        let spec = session.loaded.spec
        let dialect = session.loaded.dialect
        guard let primary = session.connections[from], let target = session.connections[to] else {
            throw SessionFailure(["error: no connection to \(from) or \(to)"])
        }
        func fail(_ line: String) -> SessionFailure { SessionFailure(["error: \(line)"]) }
        let moveCommand = move(spec, to: to, dialect: dialect)
        say("moving \(spec.pacemaker.pgsqlClone)'s promoted role to \(to) (\(moveCommand))")
        let moved = try await primary.run(moveCommand)
        guard moved.succeeded else { throw fail("\(moveCommand) failed: \(moved.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        // The pgsql agent keeps every standby's promotion score at -INFINITY while a primary
        // runs, so a preference alone moves nothing: the old primary's promoted role is banned
        // too; it demotes, and the agent scores the standbys.
        // The agent's election may still favour another standby (the most WAL received): its
        // promoted role is banned as well, so only the target can be promoted; a target the
        // agent will not promote (behind) is not, and the move times out and is cleared.
        for node in spec.nodes.map(\.name) where node != to {
            let banCommand = ban(spec, node, dialect: dialect)
            let banned = try await primary.run(banCommand)
            guard banned.succeeded else {
                _ = try? await primary.run(clear(spec))
                throw fail("\(banCommand) failed: \(banned.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        let moveStart = Date()
        // Until the target is a primary behind the rw VIP.
        let pg = spec.postgresql
        let writable: Shell = "[ \"$(\(pg.tools.psqlCommand.appending("-c", "select pg_is_in_recovery()")) 2>/dev/null)\" = f ] && ip -o -4 addr show | grep -qF -- \(" " + spec.vips.readWrite.ip + "/")"
        var gap: Double?
        while Date().timeIntervalSince(moveStart) < 180 {
            if (try? await target.run(writable, stdin: nil))?.succeeded == true { gap = Date().timeIntervalSince(moveStart); break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // The move's constraint goes whatever happened: none is left behind.
        let cleared = try? await target.run(clear(spec))
        guard let gap else {
            throw fail("\(to) was not promoted within 180 s of the move (the move's constraint was \(cleared?.succeeded == true ? "removed" : "NOT removed: crm_resource --clear --resource \(spec.pacemaker.pgsqlClone)")); pgha status shows the cluster")
        }
        say(String(format: "%@ promoted and behind %@ after %.1f s; constraint %@", to, spec.vips.readWrite.ip, gap,
                   cleared?.succeeded == true ? "removed" : "NOT removed (crm_resource --clear --resource \(spec.pacemaker.pgsqlClone))"))
        // The old primary: stopped cleanly with the agent's lock (it had standbys); its rejoin.
        guard let rejoin = session.steps.first(where: { $0.host == from && $0.name == "rejoin" }) else { throw fail("no rejoin step for \(from)") }
        var script = FactScript()
        rejoin.probe(&script)
        let deadline = Date().addingTimeInterval(120)
        while true {
            let facts = try await Executor.facts(script, on: primary)
            let change: Change?
            do { change = try rejoin.decide(facts) } catch {
                // Pacemaker is still demoting and stopping it (no primary yet in its view, …): look again.
                if Date() < deadline { try await Task.sleep(for: .seconds(1)); continue }
                throw fail("\(from) cannot rejoin: \((error as? StepFailure)?.message ?? "\(error)")")
            }
            guard let change else {
                let status = CrmMonStatus.parse(facts[CrmMonStatus.probe])
                let role = status?.instances.first { $0.resource == spec.pacemaker.pgsqlResource && $0.node == from }?.role ?? ""
                if CrmMonStatus.unpromotedRoles.contains(role) && facts[NodeProbes(spec: spec).server]?.receiver == "streaming" { break }
                if Date() < deadline { try await Task.sleep(for: .seconds(1)); continue }
                throw fail("\(from) did not come back as a standby within 120 s; pgha status shows why")
            }
            if change.action == .destructive {
                throw fail("\(from) would lose data to rejoin: \(change.summary). Nothing more was done: decide with pgha plan, then pgha apply")
            }
            say("rejoining \(from): \(change.summary)")
            switch await Executor.run(rejoin, on: primary) {
            case .failed(let message): throw fail("\(from): rejoin: \(message)")
            default: break
            }
        }
        // The other standbys follow the new timeline by themselves (a few seconds).
        var report = await StatusSession.read(spec: spec, dialect: dialect, connections: session.connections)
        let settle = Date().addingTimeInterval(30)
        while report.health != .healthy && Date() < settle {
            try await Task.sleep(for: .seconds(1))
            report = await StatusSession.read(spec: spec, dialect: dialect, connections: session.connections)
        }
        return Outcome(from: from, to: to, writeGap: gap, seconds: Date().timeIntervalSince(started), report: report)
    }
}
