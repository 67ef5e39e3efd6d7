import ArgumentParser
import Foundation
import PghaRender
import PghaRuntime
import PghaSession
import PghaSpec

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring the hosts to the spec: bootstrap bare hosts, or repair what drifted.",
        discussion: """
            Shows the plan, asks for confirmation (or --yes), then runs every step that is not already right, hosts in parallel.
            Given a plan saved with `pgha plan --out FILE`, applies exactly that plan without asking, or refuses if the hosts moved since.
            """)

    @OptionGroup var inputs: Inputs

    @Flag(name: .long, help: "Do not ask for confirmation (required when stdin is not a terminal).")
    var yes = false

    @Flag(name: [.short, .long], help: "Show every command run on the hosts (secrets redacted; they travel on stdin).")
    var verbose = false

    @Option(name: .customLong("rebuild"), help: "Allow replacing this node's non-empty data directory with a fresh clone (the old one is kept, renamed). Repeatable.")
    var rebuild: [String] = []

    @Flag(help: "Take the cluster's apply lock even if another apply holds it (only when you know that apply is gone).")
    var breakLock = false

    @Option(help: "text, or json (the plan and every step's outcome as one JSON document; needs --yes or a saved plan).")
    var format: OutputFormat = .text

    func run() async throws {
        let started = Date()
        signal(SIGPIPE, SIG_IGN)  // a host that closes its stdin early must not kill pgha
        var inputs = self.inputs.session
        var rebuild = self.rebuild
        let saved = try cli { try SavedPlan.read(inputs.spec) }
        if let saved {
            let planPath = inputs.spec
            inputs = try cli { try saved.inputs(given: inputs, rebuild: rebuild, planPath: planPath) }
            rebuild = saved.rebuild
        } else if !yes && (isatty(0) == 0 || format == .json) {
            report([Diagnostic(file: "pgha apply", line: 0, column: 0,
                               message: format == .json ? "--format json prints no prompt: add --yes" : "stdin is not a terminal, so there is no one to confirm: add --yes")])
            throw ExitCode.failure
        }
        let session = try await cli { try await LiveSession.open(inputs, rebuild: rebuild, log: verbose ? log : nil, runID: saved?.runId,
                                                                    lockForApply: true, breakLock: breakLock) }
        report(session.loaded.warnings)
        for note in session.lockNotes where !verbose { log("note: \(note)") }
        let spec = session.loaded.spec
        let plan = session.plan()

        if let saved {
            let moved = plan.moved(since: saved.plan)
            if !moved.isEmpty {
                await session.close()
                log("error: the hosts changed since the plan was saved (\(saved.created)); nothing was applied:")
                for line in moved { log("  \(line)") }
                log("Make a new plan: pgha plan \(saved.spec.path) -i \(saved.inventory.path) --out FILE")
                throw ExitCode.failure
            }
        }
        if format == .text { print(plan.text(color: isatty(1) != 0), terminator: "") }
        if !plan.errors.isEmpty {
            // Something a person must decide first: change nothing anywhere.
            await session.close()
            if format == .json { printJSON(ApplyReport(plan: plan, steps: [], hosts: [], ok: false, seconds: Date().timeIntervalSince(started))) }
            for (host, change) in plan.errors { log("error: \(host): \(change.step): \(change.summary)") }
            log("Nothing was changed: \(plan.errors.count) step\(plan.errors.count == 1 ? "" : "s") cannot be applied as the hosts are (✗ above).")
            throw ExitCode.failure
        }
        if plan.pendingCount == 0 {
            await session.close()
            let message = "No changes: the cluster matches the spec (\(session.steps.count) steps checked on \(spec.nodes.count) hosts in \(seconds(since: started)))."
            if format == .json { printJSON(ApplyReport(plan: plan, steps: [], hosts: [], ok: true, seconds: Date().timeIntervalSince(started))) }
            else { print(message) }
            return
        }
        if format == .text { print("Plan: \(plan.pendingCount) steps to run (later steps are checked again when their turn comes).") }
        if saved == nil && !yes {
            print("Apply these changes? Only 'yes' is accepted: ", terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                print("Nothing was changed.")
                await session.close()
                throw ExitCode.failure
            }
        }
        let applyStart = Date()
        let progress = Progress(live: format == .text)
        // The first Ctrl-C (or SIGTERM) stops starting steps and cancels the running ones; the
        // second ends pgha at once (the next apply takes over its lock and stops what it left).
        let executor = session.executor
        let work = Task { await executor.apply { event in progress.show(event) } }
        let interrupts = Interrupts {
            log("\ninterrupted: stopping the running steps and starting no more (again to quit at once)")
            work.cancel()
        }
        let outcomes = await work.value
        interrupts.remove()
        var report = ApplyReport.make(plan: plan, outcomes: outcomes, steps: session.steps, spec: spec,
                                      records: progress.records(since: applyStart), seconds: Date().timeIntervalSince(applyStart))
        report.planSeconds = applyStart.timeIntervalSince(started)
        if interrupts.fired {
            let stopped = await session.stopRemoteCommands()
            report.interrupted = true
            report.ok = false
            report.stoppedCommands = stopped.values.reduce(0, +)
        }
        let status = report.ok ? await session.clusterStatus() : nil
        await session.close()
        if format == .json { printJSON(report) } else {
            if verbose { print("\n" + report.slowestText(), terminator: "") }
            print(report.text(), terminator: "")
            if let status { print(status) }
        }
        if !report.ok { throw ExitCode.failure }
    }

}

/// One line per finished step, as it happens; step times kept for the report.
final class Progress: @unchecked Sendable {
    let live: Bool
    private let lock = NSLock()
    private var durations: [String: (seconds: Double, end: Date)] = [:]
    init(live: Bool) { self.live = live }

    /// Each finished step's duration and end, in seconds after `start`.
    func records(since start: Date) -> [String: (seconds: Double, end: Double)] {
        lock.lock(); defer { lock.unlock() }
        return durations.mapValues { ($0.seconds, $0.end.timeIntervalSince(start)) }
    }

    private var lastProgress: [String: Date] = [:]

    func show(_ event: ExecutionEvent) {
        if case let .progress(host, step, text) = event {
            // At most one line per step every 5 s.
            lock.lock(); defer { lock.unlock() }
            let key = "\(host)/\(step)"
            guard live, Date().timeIntervalSince(lastProgress[key] ?? .distantPast) >= 5 else { return }
            lastProgress[key] = Date()
            print("  … \(host) \(step) \(text)")
            fflush(stdout)
            return
        }
        guard case let .finished(host, step, outcome, seconds) = event else { return }
        lock.lock(); defer { lock.unlock() }
        durations["\(host)/\(step)"] = (seconds, Date())
        guard live else { return }
        let time = String(format: "%5.1fs", seconds)
        let line: String
        switch outcome {
        case .unchanged: line = "  = \(host) \(step) \(time) ok"
        case .changed(let change): line = "  \(change.action.symbol) \(host) \(step) \(time) \(change.summary)"
        case .failed(let message): line = "  ✗ \(host) \(step) \(time) FAILED: \(message)"
        case .skipped(let why): line = "  - \(host) \(step) skipped: \(why)"
        }
        print(line)
        fflush(stdout)
    }
}

/// SIGINT and SIGTERM while steps run: the first calls `first`, the second exits at once.
final class Interrupts: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var sources: [DispatchSourceSignal] = []

    init(_ first: @escaping @Sendable () -> Void) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                lock.lock()
                count += 1
                let n = count
                lock.unlock()
                if n == 1 { first() } else { log("interrupted twice: quitting now"); exit(130) }
            }
            source.resume()
            sources.append(source)
        }
    }

    var fired: Bool { lock.lock(); defer { lock.unlock() }; return count > 0 }

    func remove() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
