import Foundation
import PghaShell

/// How one step ended.
public enum Outcome: Sendable {
    case unchanged
    case changed(Change)
    case failed(String)
    case skipped(String)
}

public enum ExecutionEvent: Sendable {
    case started(host: String, step: String)
    /// How far a long step is (a clone: bytes copied of total), as it goes.
    case progress(host: String, step: String, text: String)
    case finished(host: String, step: String, outcome: Outcome, seconds: Double)
}

/// Where a running step reports its progress (the executor sets it around `apply`).
public enum StepProgress {
    @TaskLocal public static var report: (@Sendable (String) -> Void)?
}

/// Finished steps, so a step can wait for its dependencies on other hosts.
actor CompletionBoard {
    private var finished: [String: Bool] = [:]
    private var waiters: [String: [CheckedContinuation<Bool, Never>]] = [:]

    func finish(_ id: String, ok: Bool) {
        finished[id] = ok
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.resume(returning: ok) }
    }

    /// true when `id` finished successfully.
    func wait(for id: String) async -> Bool {
        if let ok = finished[id] { return ok }
        return await withCheckedContinuation { waiters[id, default: []].append($0) }
    }
}

/// Runs steps: hosts in parallel, each host's steps in order, cross-host dependencies waited
/// for. A failure skips what depends on it and lets independent work finish.
public struct Executor: Sendable {
    public let steps: [any Step]
    public let connections: [String: any HostConnection]

    public init(steps: [any Step], connections: [String: any HostConnection]) {
        self.steps = steps
        self.connections = connections
    }

    var hosts: [String] {
        var seen: [String] = []
        for step in steps where !seen.contains(step.host) { seen.append(step.host) }
        return seen
    }

    func connection(_ host: String) throws -> any HostConnection {
        guard let connection = connections[host] else {
            throw StepFailure(host: host, step: "connect", message: "no connection to this host")
        }
        return connection
    }

    /// Every host's facts for every step, one batched round trip per host, hosts in parallel.
    /// `extra` probes (e.g. Platform.probe) ride along in the same round trip.
    public func gatherFacts(extra: FactScript? = nil) async throws -> [String: Facts] {
        try await withThrowingTaskGroup(of: (String, Facts).self) { group in
            for host in hosts {
                var script = FactScript()
                if let extra { script.merge(extra) }
                for step in steps where step.host == host { step.probe(&script) }
                let connection = try connection(host)
                group.addTask { (host, try await Self.facts(script, on: connection)) }
            }
            var all: [String: Facts] = [:]
            for try await (host, facts) in group { all[host] = facts }
            return all
        }
    }

    public static func facts(_ script: FactScript, on connection: any HostConnection) async throws -> Facts {
        // For profiling probes: PGHA_DUMP_FACT_SCRIPTS=DIR keeps each host's script.
        if let dir = ProcessInfo.processInfo.environment["PGHA_DUMP_FACT_SCRIPTS"] {
            try? script.script.write(toFile: "\(dir)/\(connection.name).sh", atomically: true, encoding: .utf8)
        }
        if !script.conflicts.isEmpty {
            throw StepFailure(host: connection.name, step: "facts",
                              message: "two steps read \(script.conflicts.joined(separator: ", ")) with different probes (a defect of pgha; please report it)")
        }
        let result = try await connection.run("bash -s", stdin: Data(script.script.utf8))
        if let signal = result.signal {
            throw StepFailure(host: connection.name, step: "facts", message: "the fact probe was killed by SIG\(signal)")
        }
        let sections = script.parse(result.stdout)
        // …and the facts read, framed with FactScript.fixtureMarker: how Tests/Fixtures/facts/ were recorded.
        if let dir = ProcessInfo.processInfo.environment["PGHA_DUMP_FACT_SCRIPTS"] {
            let text = script.probes.map { "\(FactScript.fixtureMarker) \($0.name)\n\(sections[$0.name] ?? "")\n" }.joined()
            try? text.write(toFile: "\(dir)/\(connection.name).facts", atomically: true, encoding: .utf8)
        }
        return Facts(sections)
    }

    /// What each step would do given the facts gathered before anything changed.
    /// Decisions are pure: they run on every core at once (comparing the hacluster password
    /// with /etc/shadow's yescrypt hash is the slow one, ~20 ms a host).
    public func plan(_ facts: [String: Facts]) -> [(step: any Step, change: Result<Change?, Error>)] {
        let steps = self.steps
        var results = [Result<Change?, Error>?](repeating: nil, count: steps.count)
        results.withUnsafeMutableBufferPointer { slots in
            let base = slots.baseAddress!
            DispatchQueue.concurrentPerform(iterations: steps.count) { i in
                (base + i).pointee = Result { try steps[i].decide(facts[steps[i].host] ?? Facts([:])) }
            }
        }
        return zip(steps, results).map { ($0, $1!) }
    }

    /// Applies every step that is not converged. Returns the outcome per step id.
    public func apply(report: @escaping @Sendable (ExecutionEvent) -> Void) async -> [String: Outcome] {
        let board = CompletionBoard()
        return await withTaskGroup(of: [(String, Outcome)].self) { group in
            for host in hosts {
                let hostSteps = steps.filter { $0.host == host }
                group.addTask {
                    var outcomes: [(String, Outcome)] = []
                    for step in hostSteps {
                        var blocked: String?
                        for dependency in step.dependsOn where !(await board.wait(for: dependency)) {
                            blocked = dependency
                            break
                        }
                        let outcome: Outcome
                        let start = Date()
                        if Task.isCancelled {
                            outcome = .skipped("interrupted before it started")
                        } else if let blocked {
                            outcome = .skipped("\(blocked) did not succeed")
                        } else {
                            report(.started(host: host, step: step.name))
                            let name = step.name
                            outcome = await StepProgress.$report.withValue({ text in report(.progress(host: host, step: name, text: text)) }) {
                                await Self.run(step, on: connections[host])
                            }
                        }
                        let ok: Bool
                        switch outcome { case .unchanged, .changed: ok = true; default: ok = false }
                        report(.finished(host: host, step: step.name, outcome: outcome, seconds: Date().timeIntervalSince(start)))
                        outcomes.append((step.id, outcome))
                        await board.finish(step.id, ok: ok)
                    }
                    return outcomes
                }
            }
            var all: [String: Outcome] = [:]
            for await outcomes in group { for (id, outcome) in outcomes { all[id] = outcome } }
            return all
        }
    }

    /// check → decide → apply → check again.
    public static func run(_ step: any Step, on connection: (any HostConnection)?) async -> Outcome {
        guard let connection else { return .failed("no connection to \(step.host)") }
        do {
            var script = FactScript()
            step.probe(&script)
            let before = try await facts(script, on: connection)
            guard let change = try step.decide(before) else { return .unchanged }
            try await step.apply(change, facts: before, on: connection)
            let after = try await facts(script, on: connection)
            if let still = try step.decide(after) {
                return .failed("did not converge: after applying, it still wants to \(still.summary)")
            }
            return .changed(change)
        } catch let failure as StepFailure {
            return .failed(Task.isCancelled ? "interrupted: \(failure.message)" : failure.message)
        } catch is CancellationError {
            return .failed("interrupted while it ran (its commands on the host are stopped)")
        } catch {
            return .failed("\(error)")
        }
    }
}
