import ArgumentParser
import Foundation
import PghaPlan
import PghaRender
import PghaRuntime
import PghaSpec

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring the hosts to the spec: bootstrap bare hosts, or repair what drifted.",
        discussion: "Shows the plan, asks for confirmation (or --yes), then runs every step that is not already right, hosts in parallel.")

    @OptionGroup var inputs: Inputs

    @Flag(name: .long, help: "Do not ask for confirmation (required when stdin is not a terminal).")
    var yes = false

    @Flag(name: [.short, .long], help: "Show every command run on the hosts (secrets never appear: they travel on stdin).")
    var verbose = false

    @Option(name: .customLong("rebuild"), help: "Allow replacing this node's non-empty data directory with a fresh clone (the old one is kept, renamed). Repeatable.")
    var rebuild: [String] = []

    func run() async throws {
        let started = Date()
        // A host that closes its stdin early must not kill pgha.
        signal(SIGPIPE, SIG_IGN)
        let loaded = try Loaded.load(inputs, requireInventory: true)
        guard let inventory = loaded.inventory else { throw ExitCode.failure }
        let spec = loaded.spec
        for node in rebuild where spec.node(named: node) == nil {
            report([Diagnostic(file: "--rebuild", line: 0, column: 0, message: "'\(node)' is not a node of \(spec.file)")])
            throw ExitCode.failure
        }
        // Every secret before any host is touched.
        let replication: String, hacluster: String
        do {
            replication = try spec.replication.password.resolve()
            hacluster = try spec.pacemaker.haclusterPassword.resolve()
        } catch {
            report([Diagnostic(file: inputs.spec, line: 0, column: 0, message: "\(error)")])
            throw ExitCode.failure
        }
        if !yes && isatty(0) == 0 {
            report([Diagnostic(file: "pgha apply", line: 0, column: 0, message: "stdin is not a terminal, so there is no one to confirm: add --yes")])
            throw ExitCode.failure
        }
        let files = try loaded.render(secrets: true)
        let connections = try await connect(spec, inventory, verbose: verbose)
        let context = BootstrapContext(spec: spec, dialect: loaded.dialect, files: files, replicationPassword: replication,
                                       haclusterPassword: hacluster, rebuild: Set(rebuild))
        let steps = BootstrapSteps.make(plan: BootstrapPlan(spec: spec, dialect: loaded.dialect), context: context)
        let executor = Executor(steps: steps, connections: connections)

        let facts = try await executor.gatherFacts()
        let plan = executor.plan(facts)
        let pending = printPlan(plan, spec: spec)
        if pending == 0 {
            print("No changes: the cluster matches the spec (\(plan.count) steps checked on \(spec.nodes.count) hosts in \(seconds(since: started))).")
            await closeAll(connections)
            return
        }
        if !yes {
            print("Apply these changes? Only 'yes' is accepted: ", terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                print("Nothing was changed.")
                await closeAll(connections)
                throw ExitCode.failure
            }
        }
        let applyStart = Date()
        let progress = Progress()
        let outcomes = await executor.apply { event in progress.show(event) }
        await closeAll(connections)
        let failed = summarize(outcomes, steps: steps, spec: spec, seconds: Date().timeIntervalSince(applyStart))
        if failed > 0 { throw ExitCode.failure }
    }

    /// Prints the changes per host; returns how many steps want to change something.
    func printPlan(_ plan: [(step: any Step, change: Result<Change?, Error>)], spec: ClusterSpec) -> Int {
        var pending = 0
        for node in spec.nodes {
            let entries = plan.filter { $0.step.host == node.name }
            let lines: [String] = entries.compactMap { entry in
                switch entry.change {
                case .success(nil): return nil
                case .success(let change?):
                    pending += 1
                    var text = "  \(change.action.rawValue) \(entry.step.name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(change.summary)"
                    if let diff = change.diff, !diff.isEmpty {
                        text += "\n" + diff.split(separator: "\n", omittingEmptySubsequences: false).map { "      \($0)" }.joined(separator: "\n")
                    }
                    return text
                case .failure(let error):
                    pending += 1
                    return "  ! \(entry.step.name.padding(toLength: 20, withPad: " ", startingAt: 0)) cannot decide: \(error)"
                }
            }
            let unchanged = entries.count - lines.count
            print("\(node.name) (\(node.address)): \(lines.count) to change, \(unchanged) already right")
            for line in lines { print(line) }
        }
        print("Plan: \(pending) steps to run (later steps are checked again when their turn comes).")
        return pending
    }

    func summarize(_ outcomes: [String: Outcome], steps: [any Step], spec: ClusterSpec, seconds: Double) -> Int {
        var failedTotal = 0
        print("")
        for node in spec.nodes {
            var changed = 0, unchanged = 0, failed = 0, skipped = 0
            for step in steps where step.host == node.name {
                switch outcomes[step.id] {
                case .changed?: changed += 1
                case .unchanged?: unchanged += 1
                case .failed?: failed += 1
                case .skipped?, nil: skipped += 1
                }
            }
            failedTotal += failed
            print("\(node.name): \(changed) changed, \(unchanged) unchanged, \(failed) failed, \(skipped) skipped")
        }
        for step in steps {
            if case .failed(let message)? = outcomes[step.id] { print("error: \(step.host): \(step.name): \(message)") }
        }
        print(String(format: "Apply %@ in %.1f s.", failedTotal == 0 ? "complete" : "FAILED", seconds))
        return failedTotal
    }

    func closeAll(_ connections: [String: any HostConnection]) async {
        for connection in connections.values {
            if let transport = connection as? TransportConnection { await transport.transport.close() }
        }
    }
}

func seconds(since date: Date) -> String { String(format: "%.2f s", Date().timeIntervalSince(date)) }

/// One line per finished step, as it happens.
final class Progress: @unchecked Sendable {
    let lock = NSLock()
    func show(_ event: ExecutionEvent) {
        guard case let .finished(host, step, outcome, seconds) = event else { return }
        let time = String(format: "%5.1fs", seconds)
        let line: String
        switch outcome {
        case .unchanged: line = "  = \(host) \(step) \(time) ok"
        case .changed(let change): line = "  \(change.action.rawValue) \(host) \(step) \(time) \(change.summary)"
        case .failed(let message): line = "  ✗ \(host) \(step) \(time) FAILED: \(message)"
        case .skipped(let why): line = "  - \(host) \(step) skipped: \(why)"
        }
        lock.lock(); print(line); fflush(stdout); lock.unlock()
    }
}
