import Foundation
import PghaRuntime
import PghaShell
import PghaSpec

/// `pgha drill`: a fault caused on purpose on a healthy cluster, measured from the clients'
/// side. Each round: the cluster must be healthy (pgha status); a writer on another node
/// commits numbered rows through the rw VIP every 0.1 s and a reader asks the ro VIP (both as
/// the PostgreSQL OS user: its ~/.pgpass has the replication role's password); the fault;
/// until a write is acknowledged again and Pacemaker has acted; which rows acknowledged are
/// missing on the new primary; then the failed node is brought back the way `pgha apply` does
/// (the rejoin step, destructive when commits are discarded — the drill was confirmed for
/// that) and the time until `pgha status` is healthy again. The apply lock is held while a
/// round breaks and while it repairs. The drill's table and logs are removed at the end.
public enum Drill {
    public struct Options: Sendable {
        public var fault: DrillFault
        public var node: String
        public var rounds: Int
        public init(fault: DrillFault, node: String, rounds: Int) {
            self.fault = fault
            self.node = node
            self.rounds = rounds
        }
    }

    public struct Round: Sendable, Encodable {
        public var round: Int
        public var target: String
        /// Where the writer and reader ran.
        public var writer: String
        public var promoted: String?
        public var times: DrillTimes?
        public var rowsAcknowledged: Int
        public var rowsMissing: Int?
        /// From the fault until pgha status was healthy again, after the rejoin.
        public var healthy: Double?
        /// What the repair changed, one line per step (`!` destructive).
        public var repair: [String]
        public var error: String?
        /// When pgha caused the fault (this controller's clock).
        var faultDate: Date?

        // The JSON report: the round's times flat beside its other values (no `times` object).
        enum CodingKeys: String, CodingKey { case round, target, writer, promoted, rowsAcknowledged, rowsMissing, healthy, repair, error
            case writeRecovery, writeGap, failedWrites, readRecovery }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(round, forKey: .round)
            try c.encode(target, forKey: .target)
            try c.encode(writer, forKey: .writer)
            try c.encodeIfPresent(promoted, forKey: .promoted)
            try c.encodeIfPresent(times?.writeRecovery, forKey: .writeRecovery)
            try c.encodeIfPresent(times?.writeGap, forKey: .writeGap)
            try c.encodeIfPresent(times?.failedWrites, forKey: .failedWrites)
            try c.encodeIfPresent(times?.readRecovery, forKey: .readRecovery)
            try c.encode(rowsAcknowledged, forKey: .rowsAcknowledged)
            try c.encodeIfPresent(rowsMissing, forKey: .rowsMissing)
            try c.encodeIfPresent(healthy, forKey: .healthy)
            try c.encode(repair, forKey: .repair)
            try c.encodeIfPresent(error, forKey: .error)
        }

        init(round: Int, target: String, writer: String) {
            self.round = round
            self.target = target
            self.writer = writer
            self.rowsAcknowledged = 0
            self.repair = []
        }
    }

    public struct Summary: Sendable, Encodable {
        public var writeRecovery: DrillSpread?
        public var readRecovery: DrillSpread?
        public var healthy: DrillSpread?
        public var rowsMissing: Int
    }

    public struct Report: Sendable, Encodable {
        public var format = 1
        public var cluster: String
        public var fault: DrillFault
        public var node: String
        public var replication: String
        public var rounds: [Round]
        public var summary: Summary
        /// Every round failed over (or rode out a standby's fault), came back healthy, and lost
        /// no acknowledged row where replication is synchronous.
        public var ok: Bool
    }

    /// Input checks before any host is touched.
    public static func check(_ options: Options, spec: ClusterSpec) throws {
        guard (1...20).contains(options.rounds) else { throw SessionFailure(["error: --rounds \(options.rounds): use 1 to 20"]) }
        if !["primary", "standby"].contains(options.node) && spec.node(named: options.node) == nil {
            throw SessionFailure(["error: --node '\(options.node)' is not a node of \(spec.file) (\(spec.nodes.map(\.name).joined(separator: ", "))); use primary, standby or a node's name"])
        }
        if options.fault.needsFencing && spec.pacemaker.fencing.isEmpty {
            throw SessionFailure(["error: --fault \(options.fault.rawValue) needs fencing: \(spec.file) configures no fencing device (pacemaker.fencing), and a node cut off without being fenced may keep the primary and its VIP (two primaries). Configure fencing, or drill with kill-postgres or stop-node"])
        }
    }

    /// Runs every round; `say` prints progress. Throws before the first fault when the cluster
    /// is not healthy or the inputs are bad; a round that goes wrong is reported in it.
    public static func run(_ inputs: SessionInputs, _ options: Options, log: SessionLog?, say: @escaping @Sendable (String) -> Void) async throws -> Report {
        let loaded = try LoadedSpec.load(inputs, requireInventory: true, requireDialect: false)
        let spec = loaded.spec
        try check(options, spec: spec)
        var rounds: [Round] = []
        var tableOn: String?
        for number in 1...options.rounds {
            let session = try await openWithLock(inputs, log: log, wait: number == 1 ? 0 : 180)
            var round: Round
            do {
                let before = await StatusSession.read(spec: spec, dialect: session.loaded.dialect, connections: session.connections)
                guard before.health == .healthy, let primary = before.primary else {
                    throw SessionFailure(["error: the cluster is not healthy (\(before.summary)); a drill starts from a healthy cluster:"]
                        + before.allProblems.map { "  \($0)" } + ["Repair it first: pgha plan, then pgha apply."])
                }
                let target = try DrillPlan.target(before, node: options.node)
                guard let writer = DrillPlan.writerHost(before, target: target) else { throw SessionFailure(["error: no node to run the writer on"]) }
                if tableOn == nil {
                    try await must(session, primary, DrillScripts.createTable(spec), "create the drill's table \(DrillScripts.table)")
                    tableOn = primary
                }
                round = Round(round: number, target: target, writer: writer)
                say("round \(number): \(options.fault.rawValue) on \(target)\(target == primary ? " (the primary)" : ""); writer on \(writer)")
                await breakAndMeasure(session, spec: spec, options: options, primary: primary, round: &round)
                // Whatever happened: the writer and reader stop, their logs go.
                let scripts = DrillScripts(spec: spec, directory: directory(session, number), round: number)
                if let connection = session.connections[writer] {
                    _ = try? await connection.run(scripts.stop)
                    _ = try? await connection.run(scripts.remove)
                }
            } catch {
                await session.close()
                if number == 1 { throw error }
                rounds.append(Round(round: number, target: "-", writer: "-").failed(describe(error)))
                break
            }
            await session.close()
            let faultAt = round.faultDate ?? Date()
            if round.error == nil || round.faultDate != nil {
                await repair(inputs, spec: spec, log: log, faultAt: faultAt, round: &round, say: say)
            }
            say(line(round))
            rounds.append(round)
            if round.error != nil { break }
        }
        await cleanUp(inputs, spec: spec, log: log)
        let missing = rounds.compactMap(\.rowsMissing).reduce(0, +)
        let summary = Summary(writeRecovery: DrillSpread(rounds.compactMap { $0.times?.writeRecovery }),
                              readRecovery: DrillSpread(rounds.compactMap { $0.times?.readRecovery }),
                              healthy: DrillSpread(rounds.compactMap(\.healthy)), rowsMissing: missing)
        let sync = spec.replication.mode == .sync
        let ok = rounds.count == options.rounds && rounds.allSatisfy { $0.error == nil } && (!sync || missing == 0)
        return Report(cluster: spec.name, fault: options.fault, node: options.node, replication: spec.replication.mode.rawValue,
                      rounds: rounds, summary: summary, ok: ok)
    }

    /// One line of a round for the terminal.
    public static func line(_ r: Round) -> String {
        func s(_ v: Double?) -> String { v.map { String(format: "%.1f s", $0) } ?? "-" }
        var parts = ["round \(r.round): \(r.target) broken", "promoted \(r.promoted ?? "-")",
                     "writes back after \(s(r.times?.writeRecovery))", "ro VIP back after \(s(r.times?.readRecovery))",
                     "\(r.rowsAcknowledged) rows acknowledged, \(r.rowsMissing.map(String.init) ?? "?") missing",
                     "healthy after \(s(r.healthy))"]
        if let error = r.error { parts.append("FAILED: \(error)") }
        return parts.joined(separator: "; ")
    }

    // MARK: the round

    static func breakAndMeasure(_ session: LiveSession, spec: ClusterSpec, options: Options, primary: String, round: inout Round) async {
        let scripts = DrillScripts(spec: spec, directory: directory(session, round.round), round: round.round)
        guard let writer = session.connections[round.writer] else { round.error = "no connection to \(round.writer)"; return }
        do {
            try await must(writer, scripts.prepare, "make the drill's directory \(scripts.directory)")
            try await must(writer, scripts.writer, "start the writer")
            if let reader = scripts.reader { try await must(writer, reader, "start the reader") }
        } catch { round.error = describe(error); return }
        // Writes must flow before anything is broken.
        var events: [DrillEvent] = []
        let warmup = Date()
        while Date().timeIntervalSince(warmup) < 15 {
            events = DrillEvent.parse((try? await writer.run(scripts.readWrites))?.stdout ?? "")
            if events.filter({ if case .ack = $0 { return true } else { return false } }).count >= 20 { break }
            try? await Task.sleep(for: .milliseconds(300))
        }
        guard events.contains(where: { if case .ack = $0 { return true } else { return false } }) else {
            let why = (try? await writer.run(scripts.lastError))?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            _ = try? await writer.run(scripts.stop)
            round.error = "the writer on \(round.writer) could not write through the rw VIP \(spec.vips.readWrite.ip) within 15 s: \(why.prefix(300))"
            return
        }
        // The fault, its moment marked on the writer's clock just before.
        let others = spec.nodes.map(\.name).filter { $0 != round.target && session.connections[$0] != nil }
        // A fence runs on another member than the writer's host when there is one (its connection stays free to poll).
        let (host, command) = DrillScripts.fault(options.fault, spec: spec, target: round.target,
                                                 from: others.first { $0 != round.writer } ?? others.first ?? round.writer)
        guard let faultConnection = session.connections[host] else { round.error = "no connection to \(host)"; return }
        _ = try? await writer.run(scripts.markFault)
        round.faultDate = Date()
        // pcs cluster stop and pcs stonith fence return when done: measured while they run.
        let faulting = Task { try await faultConnection.run(command, stdin: nil, timeLimit: .seconds(180)) }
        let status = CrmMonStatus.probe.map { CrmMonStatus.parse($0) }
        var script = FactScript()
        script.add(status)
        let wasPrimary = round.target == primary
        var times: DrillTimes?
        while Date().timeIntervalSince(round.faultDate!) < 120 {
            try? await Task.sleep(for: .milliseconds(500))
            let writes = DrillEvent.parse((try? await writer.run(scripts.readWrites))?.stdout ?? "")
            let reads = DrillEvent.parse((try? await writer.run(scripts.readReads))?.stdout ?? "")
            times = DrillTimes.measure(writes: writes, reads: reads)
            let view = (try? await Executor.facts(script, on: writer)).flatMap { $0[status] }
            round.promoted = view.flatMap { promoted($0, spec) }
            let noticed = view.map { noticedFault($0, spec: spec, target: round.target, wasPrimary: wasPrimary) } ?? false
            let readsBack = scripts.reader == nil || reads.last.map { if case .up = $0 { return true } else { return false } } ?? false
            if times?.writeRecovery != nil && noticed && readsBack && (!wasPrimary || (round.promoted != nil && round.promoted != round.target)) { break }
        }
        // (A node fenced while its command returns leaves no result: its connection is gone.)
        if let result = await faultResult(faulting), !result.succeeded {
            round.error = "the fault command on \(host) failed (exit \(result.status)): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300))"
        }
        // Two more seconds of writes on the new primary, then the writer stops.
        try? await Task.sleep(for: .seconds(2))
        _ = try? await writer.run(scripts.stop)
        try? await Task.sleep(for: .milliseconds(1500))
        let writesText = (try? await writer.run(scripts.readWrites))?.stdout ?? ""
        let readsText = (try? await writer.run(scripts.readReads))?.stdout ?? ""
        // PGHA_DUMP_DRILL_LOGS=DIR keeps each round's logs (the unit tests' fixtures are such logs).
        if let dump = ProcessInfo.processInfo.environment["PGHA_DUMP_DRILL_LOGS"], !dump.isEmpty {
            try? FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
            try? writesText.write(toFile: "\(dump)/round-\(round.round).writes", atomically: true, encoding: .utf8)
            try? readsText.write(toFile: "\(dump)/round-\(round.round).reads", atomically: true, encoding: .utf8)
        }
        times = DrillTimes.measure(writes: DrillEvent.parse(writesText), reads: DrillEvent.parse(readsText))
        round.times = times
        round.rowsAcknowledged = times?.acknowledged.count ?? 0
        if times?.writeRecovery == nil, round.error == nil {
            round.error = "no write succeeded through the rw VIP \(spec.vips.readWrite.ip) within 120 s of the fault"
        } else if wasPrimary && (round.promoted == nil || round.promoted == round.target) && round.error == nil {
            round.error = "Pacemaker promoted no other node within 120 s of the fault"
        }
        // Acknowledged rows on the primary now.
        if let now = round.promoted ?? (wasPrimary ? nil : primary), let connection = session.connections[now],
           let result = try? await connection.run(DrillScripts.present(spec, round: round.round)), result.succeeded {
            let present = Set(result.stdout.split(separator: "\n").compactMap { Int($0) })
            round.rowsMissing = (times?.acknowledged ?? []).filter { !present.contains($0) }.count
        }
        _ = try? await writer.run(scripts.remove)
    }

    /// The round's private directory on the writer host.
    static func directory(_ session: LiveSession, _ round: Int) -> String { "/tmp/pgha-drill-\(session.runID)-r\(round)" }

    /// Whether Pacemaker's view shows it acted on the fault: the target is no longer a member
    /// online, or no longer holds the instance it had.
    static func noticedFault(_ status: CrmMonStatus, spec: ClusterSpec, target: String, wasPrimary: Bool) -> Bool {
        guard status.onlineNodes.contains(target) else { return true }
        let roles = status.instances.filter { $0.resource == spec.pacemaker.pgsqlResource && $0.node == target }.map(\.role)
        if wasPrimary { return !roles.contains(where: CrmMonStatus.promotedRoles.contains) }
        return !roles.contains(where: CrmMonStatus.unpromotedRoles.contains) || status.failures.contains { $0.node == target }
    }

    static func promoted(_ status: CrmMonStatus, _ spec: ClusterSpec) -> String? {
        let nodes = status.promoted(spec.pacemaker.pgsqlResource)
        return nodes.count == 1 ? nodes[0] : nil
    }

    static func faultResult(_ task: Task<CommandResult, Error>) async -> CommandResult? {
        // A fence or a stop may still run (it returns when the node is back or stopped): give it 60 s more.
        let waited = Task { try? await Task.sleep(for: .seconds(60)); task.cancel() }
        defer { waited.cancel() }
        return try? await task.value
    }

    // MARK: repair and clean-up

    /// The failed node brought back as `pgha apply --yes` would, then until status is healthy.
    static func repair(_ inputs: SessionInputs, spec: ClusterSpec, log: SessionLog?, faultAt: Date, round: inout Round, say: @escaping @Sendable (String) -> Void) async {
        // A node coming back may not be ready for a moment (its Pacemaker starting, the rw VIP
        // moving): a failed repair is tried again twice, 5 s apart, as a person would re-run apply.
        var failure: String?
        var lastSession: LiveSession?
        for attempt in 1...3 {
            if attempt > 1 { try? await Task.sleep(for: .seconds(5)) }
            let session: LiveSession
            do { session = try await openWithLock(inputs, log: log, wait: 240) } catch {
                failure = "the repair could not start: \(describe(error))"
                continue
            }
            let outcomes = await session.executor.apply { event in
                if case let .progress(host, step, text) = event { say("  … \(host) \(step) \(text)") }
            }
            failure = nil
            for step in session.steps {
                switch outcomes[step.id] {
                case .changed(let change)?: round.repair.append("\(change.action == .destructive ? "!" : "~") \(step.host) \(step.name): \(change.summary)")
                case .failed(let message)?: failure = failure ?? "the repair failed: \(step.host) \(step.name): \(message)"
                default: break
                }
            }
            if failure == nil { lastSession = session; break }
            say("  … repair attempt \(attempt) failed: \(failure!)")
            await session.close()
        }
        guard let session = lastSession else {
            round.error = round.error ?? failure
            return
        }
        let deadline = Date().addingTimeInterval(90)
        var report = await StatusSession.read(spec: spec, dialect: session.loaded.dialect, connections: session.connections)
        while report.health != .healthy && Date() < deadline {
            try? await Task.sleep(for: .seconds(1))
            report = await StatusSession.read(spec: spec, dialect: session.loaded.dialect, connections: session.connections)
        }
        if report.health == .healthy { round.healthy = Date().timeIntervalSince(faultAt) }
        else { round.error = round.error ?? "not healthy 90 s after the repair: \(report.allProblems.joined(separator: "; "))" }
        await session.close()
    }

    /// The drill's table dropped on whichever node is primary now (the drop replicates).
    static func cleanUp(_ inputs: SessionInputs, spec: ClusterSpec, log: SessionLog?) async {
        guard let status = try? await StatusSession.open(inputs, log: log) else { return }
        let report = await status.read()
        if let primary = report.primary, let connection = status.connections[primary] {
            _ = try? await connection.run(DrillScripts.dropTable(spec))
        }
        await status.close()
    }

    /// A session holding the apply lock; while hosts cannot be reached yet (a fenced node
    /// rebooting), tried again for up to `wait` seconds.
    static func openWithLock(_ inputs: SessionInputs, log: SessionLog?, wait: Double) async throws -> LiveSession {
        let deadline = Date().addingTimeInterval(wait)
        while true {
            do { return try await LiveSession.open(inputs, rebuild: [], log: log, lockForApply: true) } catch let error as SessionFailure {
                if Date() >= deadline { throw error }
                try? await Task.sleep(for: .seconds(2))
            }
        }
    }

    static func must(_ session: LiveSession, _ host: String, _ command: Command, _ what: String) async throws {
        guard let connection = session.connections[host] else { throw SessionFailure(["error: no connection to \(host)"]) }
        try await must(connection, command, what)
    }

    static func must(_ connection: any HostConnection, _ command: Command, _ what: String) async throws {
        try await must(connection, command.shell, stdin: command.stdin, what)
    }

    static func must(_ connection: any HostConnection, _ command: Shell, stdin: Data? = nil, _ what: String) async throws {
        let result = try await connection.run(command, stdin: stdin)
        guard result.succeeded else {
            throw SessionFailure(["error: \(connection.name): \(what) failed (exit \(result.status)): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300))"])
        }
    }

    static func describe(_ error: Error) -> String {
        if let failure = error as? SessionFailure { return failure.lines.joined(separator: " ") }
        return "\(error)"
    }
}

extension Drill.Round {
    func failed(_ message: String) -> Drill.Round {
        var copy = self
        copy.error = message
        return copy
    }
}
