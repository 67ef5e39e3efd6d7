import Foundation
import PghaRender
import PghaShell
import PghaSpec

/// Day two (seed 001's last part, by hand there): a node whose PostgreSQL Pacemaker no longer
/// runs — the old primary after a failover, with the agent's PGSQL.lock; a crashed, fenced or
/// powered-off node back again — made a standby of the current primary: pg_rewind onto it, or a
/// fresh clone when rewinding cannot be trusted (the old directory kept), then the lock removed
/// (only now: while it exists the agent refuses to start PostgreSQL here), `crm_resource
/// --cleanup`, and a wait until it streams. What a rejoin discards is read first
/// (`Divergence`): commits past the fork point make it destructive (`!`), named with their
/// LSN range and times. Also: Pacemaker started again on a node where it does not run; failed
/// actions of resources that run again cleared; `--rebuild NODE` for any node of a running cluster.
public struct RejoinStep: Step {
    public let host: String
    public let name = "rejoin"
    public var dependsOn: [String] = []
    let probes: ServerProbes
    let node: NodeProbes
    let rebuild: Bool
    /// This node's postgresql.conf and pg_hba.conf: a clone or a rewind copies the primary's.
    let configuration: [RenderedFile]

    public init(host: String, probes: ServerProbes, rebuild: Bool, configuration: [RenderedFile]) {
        self.host = host
        self.probes = probes
        self.node = NodeProbes(spec: probes.spec)
        self.rebuild = rebuild
        self.configuration = configuration
    }

    var spec: ClusterSpec { probes.spec }
    var pg: ClusterSpec.PostgreSQL { probes.pg }
    var resource: String { spec.pacemaker.pgsqlResource }
    var lockPath: String? { spec.pacemaker.tmpdir.map { $0 + "/PGSQL.lock" } }

    public var summary: String {
        "after a failover or a lost node: make \(host) a standby of the current primary again (pg_rewind, else a fresh clone), remove PGSQL.lock, pcs resource cleanup"
    }
    public var details: [String] {
        ["nothing to do on a bare cluster or a healthy node; commits the rejoin would discard make it destructive (!)"]
    }

    public func probe(_ script: inout FactScript) {
        script.add(CrmMonStatus.probe)
        script.add(probes.managed)
        script.add(probes.dataDirectory)
        script.add(probes.clonePending)
        script.add(node.server)
        script.add(node.control)
        script.add(node.lockFile)
        script.add(node.divergence)
        if rebuild { script.add(probes.rebuilt) }
    }

    /// How the node is made a standby again.
    public enum Method: Equatable, Sendable {
        /// Its data can follow as it is: lock removed, cleanup.
        case follow
        /// pg_rewind onto the current primary; `keepWAL`: its WAL is copied aside first (it holds commits the rewind discards).
        case rewind(keepWAL: Bool)
        /// The data directory moved aside (kept) and cloned again from the current primary.
        case reclone
    }

    public enum Repair: Equatable, Sendable {
        case startPacemaker
        /// Pacemaker runs here but the node stays `pending`: its controller was left out of the
        /// DC's join round (seen on Pacemaker 2.1.5 when a fenced node was back within a second
        /// of its fencing), and while a node is pending Pacemaker starts nothing anywhere.
        case restartPacemaker
        /// The primary does not answer on the rw VIP because another node is pending: wait for it.
        case awaitPrimary
        case rejoin(Method, primary: String)
        case clearFailures([String])
        /// A standby that does not stream: stopped here first, then assessed again.
        case restartStandby(primary: String)
    }

    /// The repair this node needs, or nil. Pure.
    public func assess(_ facts: Facts) throws -> (repair: Repair, change: Change)? {
        guard facts[probes.managed] else { return nil }  // a bootstrap: the other steps build the node
        // --rebuild: done once this run moved the old directory aside.
        let rebuild = self.rebuild && !facts[probes.rebuilt]
        guard let status = CrmMonStatus.parse(facts[CrmMonStatus.probe]) else {
            return (.startPacemaker, Change(.update, "Pacemaker does not run on \(host): start it here (pcs cluster start), then rejoin the node if it needs it"))
        }
        let member = status.nodes.first { $0.name == host }
        // crm_mon shows a pending node as standby too: pending first.
        if member?.pending == true {
            return (.restartPacemaker, Change(.update, "\(host) is pending in the cluster (its controller has not joined the DC; while a node is pending Pacemaker starts nothing anywhere): give it 20 s, then restart the cluster stack here (pcs cluster stop, pcs cluster start; it runs no resource) and rejoin the node if it needs it"))
        }
        if member?.standby == true || member?.maintenance == true { return nil }  // set aside by its operator
        let instance = status.instances.first { $0.resource == resource && $0.node == host }
        let role = instance?.role ?? "Stopped"
        if CrmMonStatus.promotedRoles.contains(role) && !rebuild { return clearFailures(status) }
        let primaries = status.nodes(of: resource, role: "Promoted") + status.nodes(of: resource, role: "Master")
        let server = facts[node.server]
        let running = server != nil
        let lock = facts[node.lockFile]
        let failed = instance?.failed == true || status.failures.contains { $0.node == host && $0.operation.hasPrefix(resource + "_") }
            || status.failCounts[host]?[resource] != nil
        // pgha's own ban, left by a rejoin cut short, counts as work to finish. (The agent's
        // DISCONNECT alone does not: a standby Pacemaker is starting shows it too.)
        let banned = status.bans.contains { $0.id == "cli-ban-\(spec.pacemaker.pgsqlClone)-on-\(host)" }
        if !rebuild {
            if CrmMonStatus.unpromotedRoles.contains(role) && !(instance?.failed ?? false) && running {
                // A standby that does not stream (its WAL receiver stopped: a diverged timeline,
                // a removed WAL segment) is taken out of Pacemaker's hands and rejoined too.
                guard server?.receiver != "streaming", let primary = primaries.first, primaries.count == 1 else { return clearFailures(status) }
                let agent = status.attributes[host]?["pgsql-status"].map { ", agent: \($0)" } ?? ""
                return (.restartStandby(primary: primary),
                        Change(.update, "\(host) runs as a standby but does not stream from \(primary) (WAL receiver: \(server?.receiver ?? "none")\(agent)): give it 20 s, then stop it here (crm_resource --ban, cleared afterwards) and rejoin it as the facts then say"))
            }
            if lock != .present && !failed && !banned { return nil }  // Pacemaker is on it (starting, stopping)
        }

        if lock == .link { throw fail("\(lockPath ?? "PGSQL.lock") is a symbolic link; pgha never acts through one: remove it, then re-run") }
        guard primaries.count == 1, let primary = primaries.first, primary != host else {
            if primaries.first == host {
                if rebuild { throw fail("\(host) is the primary; pgha does not rebuild the primary: switch over to another node first, then rebuild \(host)") }
                return nil
            }
            throw fail("no node is promoted (\(primaries.isEmpty ? "none" : primaries.joined(separator: ", "))): there is no primary to rejoin \(host) to; `pgha status` shows the cluster")
        }
        if running && !(rebuild && CrmMonStatus.unpromotedRoles.contains(role)) {
            throw fail("PostgreSQL runs on \(host) but Pacemaker does not run it (\(role.lowercased())): stop it (pg_ctl stop -D \(pg.dataDir)), then re-run")
        }
        let (upstream, beyond) = facts[node.divergence]
        let from = "\(primary) (\(spec.vips.readWrite.ip))"
        let keep = "kept as \(probes.aside)"
        let finish = "remove PGSQL.lock, pcs resource cleanup, wait until it streams"
        if rebuild {
            let stop = running ? "stop the standby here (crm_resource --ban, cleared afterwards), " : ""
            return (.rejoin(.reclone, primary: primary), Change(.destructive, "\(stop)move \(pg.dataDir) aside (\(keep)), clone it again from \(from), \(finish) (--rebuild \(host))"))
        }
        if let run = facts[probes.clonePending] {
            return (.rejoin(.reclone, primary: primary), Change(.destructive, "the clone pgha started in run \(run) did not finish: move the partial copy aside (\(keep)), clone again from \(from), \(finish)"))
        }
        guard let local = facts[node.control] else {
            let dir = facts[probes.dataDirectory]
            if dir.isEmpty { return (.rejoin(.reclone, primary: primary), Change(.create, "\(pg.dataDir) is empty: clone it from \(from), \(finish)")) }
            throw fail("\(pg.dataDir) holds no PostgreSQL cluster; pgha never clones over existing files. Check it, then name this node with --rebuild \(host) (the old directory is kept, renamed)")
        }
        guard let upstream else {
            // Pacemaker starts nothing (the rw VIP included) while a node is pending: that node's
            // own rejoin restarts it; this one waits for the VIP, then decides from the facts.
            let pending = status.nodes.filter(\.pending).map(\.name)
            if !pending.isEmpty {
                return (.awaitPrimary, Change(.update, "the rw VIP has no server while \(pending.joined(separator: ", ")) is pending in the cluster: wait until \(primary) answers there (90 s at most), then rejoin \(host) as the facts then say"))
            }
            throw fail("the current primary \(primary) does not answer replication connections on \(spec.vips.readWrite.ip) as \(spec.replication.user); `pgha status` shows the cluster")
        }
        let was = local.state == "in production" || local.state == "shut down" ? "was a primary (\(local.state))" : "was a standby (\(local.state))"
        switch Divergence.judge(local: local, upstream: upstream, beyond: beyond, restartOnPromote: spec.pacemaker.restartOnPromote) {
        case .behind(let fork):
            let at = fork.map { ", before \(primary)'s timeline \(upstream.timeline) began at \($0)" } ?? ""
            return (.rejoin(.follow, primary: primary), Change(.update, "\(host) \(was) on timeline \(local.timeline ?? 0) and holds nothing \(primary) lacks\(at): \(finish)"))
        case .diverged(let fork, let wal):
            return (.rejoin(.rewind(keepWAL: false), primary: primary),
                    Change(.update, "\(host) \(was): its WAL goes past \(primary)'s fork point \(fork) (timeline \(upstream.timeline)) by \(wal.records) records, no commit among them: pg_rewind onto \(from), \(finish)"))
        case .lost(let fork, let wal):
            let range = "\(wal.first.map(String.init(describing:)) ?? "\(fork)")–\(wal.last.map(String.init(describing:)) ?? "?")"
            let times = wal.firstCommit.map { first in " (committed \(first)\(wal.lastCommit.map { $0 == first ? "" : " – \($0)" } ?? "") UTC)" } ?? ""
            return (.rejoin(.rewind(keepWAL: true), primary: primary),
                    Change(.destructive, "\(host) \(was) and diverged at \(fork) from \(primary)'s timeline \(upstream.timeline): \(wal.commits) transaction\(wal.commits == 1 ? "" : "s") committed on \(host) at \(range)\(times) never reached \(primary) and are discarded; its WAL is kept in \(keptWAL), then pg_rewind onto \(from), \(finish)"))
        case .unknown(let why):
            return (.rejoin(.reclone, primary: primary),
                    Change(.destructive, "\(host) \(was); \(why): move \(pg.dataDir) aside (\(keep)), clone it again from \(from), \(finish)"))
        case .foreign(let why):
            throw fail("\(pg.dataDir) \(why); pgha never makes it a standby. Check it, then name this node with --rebuild \(host) (the old directory is kept, renamed)")
        }
    }

    /// Failed actions of resources that run again on this node: cleared, each named in the plan.
    func clearFailures(_ status: CrmMonStatus) -> (repair: Repair, change: Change)? {
        let failures = status.failures.filter { $0.node == host }.map { "\($0.operation) (\($0.status))" }
        let counts = (status.failCounts[host] ?? [:]).keys.sorted()
        guard !failures.isEmpty || !counts.isEmpty else { return nil }
        let what = failures.isEmpty ? "fail counts of \(counts.joined(separator: ", "))" : "failed actions \(failures.joined(separator: ", "))"
        return (.clearFailures(counts), Change(.update, "clear the \(what) on \(host): the resources run again (crm_resource --cleanup --node \(host))"))
    }

    /// Where a destructive rewind keeps the node's WAL (it holds the discarded commits).
    var keptWAL: String { "\(pg.dataDir).pgha-wal-\(probes.runID)" }

    public func decide(_ facts: Facts) throws -> Change? { try assess(facts)?.change }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        guard let assessed = try assess(facts) else { return }
        var repair = assessed.repair
        var current = facts
        if repair == .awaitPrimary {
            let answers = probes.rwVIPAnswers
            var script = FactScript()
            script.add(answers)
            var up = false
            for _ in 0..<90 {
                if (try? await Executor.facts(script, on: connection))?[answers] == true { up = true; break }
                StepProgress.report?("waiting for the primary behind the rw VIP \(spec.vips.readWrite.ip)")
                try await Task.sleep(for: .seconds(1))
            }
            guard up else { throw fail("no primary answered on the rw VIP \(spec.vips.readWrite.ip) within 90 s (a node stayed pending); `pgha status` shows the cluster") }
            var again = FactScript()
            probe(&again)
            let now = try await Executor.facts(again, on: connection)
            guard let next = try assess(now), next.repair != .awaitPrimary else { return }
            repair = next.repair
            current = now
        }
        if repair == .restartPacemaker {
            // A join can take a moment: only a node still pending after 20 s is restarted.
            let pending = CrmMonStatus.query.appending("--node", host)
            var still = true
            for _ in 0..<20 {
                let xml = (try? await connection.run(pending).stdout) ?? ""
                still = CrmMonStatus.parse(xml)?.nodes.first { $0.name == host }?.pending ?? true
                if !still { break }
                StepProgress.report?("waiting for \(host) to join the DC by itself")
                try await Task.sleep(for: .seconds(1))
            }
            if still { _ = try await run(Command("pcs", "cluster", "stop"), on: connection, timeLimit: .seconds(120)) }
            repair = .startPacemaker
        }
        if repair == .startPacemaker {
            _ = try await run(Command("pcs", "cluster", "start"), on: connection, timeLimit: .seconds(120))
            let online = CrmMonStatus.query.appending("--node", host)
            // Online and joined: a pending node shows online="true" as well.
            _ = try await run(Shell.waitUntil("s=$(\(online) 2>/dev/null); printf '%s' \"$s\" | grep -q 'online=\"true\"' && ! printf '%s' \"$s\" | grep -q 'pending=\"true\"'", tries: 120, interval: 1,
                                              failure: "\(host) did not come online in the cluster within 120 s"), on: connection,
                              display: "wait until \(host) is online")
            // Once the node is back, the agent starts PostgreSQL itself or fails on the lock: look again.
            try await Task.sleep(for: .seconds(5))
            var script = FactScript()
            probe(&script)
            let now = try await Executor.facts(script, on: connection)
            guard let again = try assess(now), again.repair != .startPacemaker, again.repair != .restartPacemaker else { return }
            repair = again.repair
            current = now
        }
        if case .restartStandby(let primary) = repair {
            guard let again = try await takeOut(primary: primary, on: connection) else { return }
            (repair, current) = again
        }
        switch repair {
        case .startPacemaker, .restartPacemaker, .awaitPrimary, .restartStandby: return
        case .clearFailures:
            _ = try await run(Command("crm_resource", "--cleanup", "--node", host), on: connection, display: "crm_resource --cleanup --node \(host)")
        case .rejoin(let method, let primary):
            try await rejoin(method, primary: primary, facts: current, on: connection)
        }
    }

    /// The ban that keeps the clone off this node while it is rejoined (`crm_resource --ban`
    /// names it cli-ban-CLONE-on-NODE); cleared once the node is a standby again.
    var ban: Command { Command("crm_resource", "--ban", "--resource", spec.pacemaker.pgsqlClone, "--node", host) }
    var clearBan: Command { Command("crm_resource", "--clear", "--resource", spec.pacemaker.pgsqlClone, "--node", host) }

    /// A standby that does not stream: 20 s to catch up by itself; then the lock (the agent
    /// will not start it again), a ban until Pacemaker stopped it, and the node assessed anew.
    func takeOut(primary: String, on connection: HostConnection) async throws -> (repair: Repair, facts: Facts)? {
        let receiver = pg.tools.psqlCommand.appending("-c", "select status from pg_stat_wal_receiver")
        for _ in 0..<20 {
            let state = (try? await connection.run(receiver).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? ""
            if state == "streaming" { return nil }
            StepProgress.report?("waiting for \(host) to stream by itself (WAL receiver: \(state.isEmpty ? "none" : state))")
            try await Task.sleep(for: .seconds(1))
        }
        try await stopHere(on: connection)
        var script = FactScript()
        probe(&script)
        let facts = try await Executor.facts(script, on: connection)
        return try assess(facts).map { ($0.repair, facts) }
    }

    /// The lock (the agent will not start PostgreSQL here again), then a ban until Pacemaker stopped it.
    func stopHere(on connection: HostConnection) async throws {
        if let lockPath {
            _ = try await run(SafePaths.touch(lockPath, mode: 0o640, owner: "root", group: "root"), on: connection, display: "touch \(lockPath)")
        }
        _ = try await run(ban, on: connection)
        let stopped: Shell = "! { [ -f \(pg.dataDir + "/postmaster.pid") ] && kill -0 \"$(head -1 \(pg.dataDir + "/postmaster.pid"))\"; } 2>/dev/null"
        _ = try await run(Shell.waitUntil(stopped, tries: 120, interval: 1, failure: "Pacemaker did not stop PostgreSQL on \(host) within 120 s"),
                          on: connection, display: "wait until Pacemaker stopped PostgreSQL on \(host)")
    }

    /// The standby files the agent writes when Pacemaker starts PostgreSQL here as a standby
    /// (pgha writes them again: the agent's start after the rejoin).
    var standbyFiles: [String] {
        pg.version >= 12 ? [pg.dataDir + "/standby.signal", pg.dataDir + "/recovery.signal"] : [pg.dataDir + "/recovery.conf"]
    }

    /// pg_rewind needs a target that was shut down cleanly. A fenced or killed primary was not:
    /// pg_rewind 13+ runs its crash recovery in single-user mode, which refuses to start while a
    /// standby file is there ("standby mode is not supported by single-user servers" — the agent
    /// wrote one when Pacemaker tried to start it as a standby after the fault); before 13 pgha
    /// runs that crash recovery itself, as pg_rewind 13 does.
    func prepareRewindTarget(state: String?, on connection: HostConnection) async throws {
        for file in standbyFiles {
            _ = try await run(SafePaths.remove(file), on: connection, display: "rm \(file) (crash recovery before pg_rewind)")
        }
        guard pg.version < 13, let state, !state.hasPrefix("shut down") else { return }
        StepProgress.report?("crash recovery of \(pg.dataDir) before pg_rewind")
        var single = pg.tools.tool("postgres", ["--single", "-F", "-D", pg.dataDir, "template1"])
        single.stdin = Data()
        _ = try await run(single, on: connection, display: "postgres --single -F -D \(pg.dataDir) template1 (crash recovery, as pg_rewind 13 runs it)",
                          timeLimit: .seconds(3600))
    }

    func rejoin(_ method: Method, primary: String, facts: Facts, on connection: HostConnection) async throws {
        let user = pg.osUser
        // The lock keeps the agent from starting PostgreSQL here until the data is a standby's.
        if let lockPath {
            _ = try await run(SafePaths.touch(lockPath, mode: 0o640, owner: "root", group: "root"), on: connection, display: "touch \(lockPath)")
        }
        let vip = spec.vips.readWrite.ip
        switch method {
        case .follow:
            break
        case .rewind(let keepWAL):
            if keepWAL {
                _ = try await run(Command(["cp", "-rp", pg.dataDir + "/pg_wal", keptWAL], user: user.name), on: connection,
                                  display: "keep \(pg.dataDir)/pg_wal as \(keptWAL)", timeLimit: .seconds(3600))
            }
            try await prepareRewindTarget(state: facts[node.control]?.state, on: connection)
            let source = "host=\(vip) port=\(pg.port) user=\(spec.replication.user) dbname=postgres connect_timeout=5 application_name=pgha-rewind"
            StepProgress.report?("pg_rewind onto \(primary)")
            let rewind = pg.tools.tool("pg_rewind", ["-D", pg.dataDir, "--source-server=\(source)"])
            let result = try await connection.run("\(rewind) 2>&1 | tail -n 5", stdin: nil, timeLimit: .seconds(3600))
            let said = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard result.succeeded, said.contains("Done!") || said.contains("no rewind required") else {
                throw fail("pg_rewind onto \(primary) failed; PGSQL.lock stays, so the agent keeps PostgreSQL stopped here. Re-clone the node with `pgha apply --rebuild \(host)` (the old directory is kept). pg_rewind said: \(said)")
            }
        case .reclone:
            if facts[node.server] != nil { try await stopHere(on: connection) }
            if !facts[probes.dataDirectory].isEmpty {
                _ = try await run(probes.moveAside, on: connection, display: "move \(pg.dataDir) aside to \(probes.aside)")
            }
            do {
                try await BasebackupStep(host: host, probes: probes, rebuild: true).notedClone(from: vip, on: connection)
            } catch let failure as StepFailure {
                throw fail(failure.message)
            }
        }
        if method != .follow {
            // pg_rewind and pg_basebackup copied the primary's files: this node's own again.
            for file in configuration {
                _ = try await run(SafePaths.write(file.path, Data(file.content.utf8), mode: file.mode, owner: file.owner, group: file.group),
                                  on: connection, display: "write \(file.path) (this node's, content on stdin)")
            }
        }
        if let lockPath { _ = try await run(SafePaths.remove(lockPath), on: connection, display: "rm \(lockPath)") }
        _ = try await run(clearBan, on: connection)
        _ = try await run(Command("crm_resource", "--cleanup", "--resource", resource, "--node", host), on: connection,
                          display: "crm_resource --cleanup --resource \(resource) --node \(host)")
        // Until Pacemaker runs it as a standby and its WAL receiver streams from the primary.
        let receiver = pg.tools.psqlCommand.appending("-c", "select status from pg_stat_wal_receiver")
        var script = FactScript()
        script.add(CrmMonStatus.probe)
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(180) {
            let state = (try? await connection.run(receiver).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? ""
            let status = CrmMonStatus.parse((try? await Executor.facts(script, on: connection))?[CrmMonStatus.probe] ?? "")
            let role = status?.instances.first { $0.resource == resource && $0.node == host }?.role ?? "Stopped"
            if state == "streaming" && CrmMonStatus.unpromotedRoles.contains(role) { return }
            StepProgress.report?("\(resource) \(role.lowercased()) on \(host), WAL receiver \(state.isEmpty ? "not running" : state)")
            try await Task.sleep(for: .seconds(1))
        }
        throw fail("\(host) did not stream from \(primary) within 180 s after the rejoin; `pgha status` and the PostgreSQL log on \(host) say why")
    }
}
