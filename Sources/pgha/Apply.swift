import ArgumentParser
import Foundation
import PghaRender
import PghaRuntime
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

    @Option(help: "text, or json (the plan and every step's outcome as one JSON document; needs --yes or a saved plan).")
    var format: OutputFormat = .text

    func run() async throws {
        let started = Date()
        signal(SIGPIPE, SIG_IGN)  // a host that closes its stdin early must not kill pgha
        var inputs = self.inputs
        var rebuild = self.rebuild
        let saved = try SavedPlan.read(inputs.spec)
        if let saved {
            inputs = try Self.inputs(of: saved, given: inputs, rebuild: rebuild)
            rebuild = saved.rebuild
        } else if !yes && (isatty(0) == 0 || format == .json) {
            report([Diagnostic(file: "pgha apply", line: 0, column: 0,
                               message: format == .json ? "--format json prints no prompt: add --yes" : "stdin is not a terminal, so there is no one to confirm: add --yes")])
            throw ExitCode.failure
        }
        let session = try await LiveSession.open(inputs, rebuild: rebuild, verbose: verbose, runID: saved?.runId)
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
        let outcomes = await session.executor.apply { event in progress.show(event) }
        let report = ApplyReport.make(plan: plan, outcomes: outcomes, steps: session.steps, spec: spec,
                                      records: progress.records, seconds: Date().timeIntervalSince(applyStart))
        let status = report.ok ? await Self.clusterStatus(session) : nil
        await session.close()
        if format == .json { printJSON(report) } else { print(report.text(), terminator: ""); if let status { print(status) } }
        if !report.ok { throw ExitCode.failure }
    }

    /// One line on the cluster as its own tools see it: where the primary is, and each standby's
    /// replication state as the primary reports it (the promoted node may not be the first one).
    static func clusterStatus(_ session: LiveSession) async -> String? {
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

    /// The inputs a saved plan was made from, refused when any of them changed since.
    static func inputs(of saved: SavedPlan, given: Inputs, rebuild: [String]) throws -> Inputs {
        if given.inventory != nil || given.templates != nil || given.pcsDialect != nil || !rebuild.isEmpty {
            report([Diagnostic(file: given.spec, line: 0, column: 0,
                               message: "a saved plan carries its spec, inventory, templates and flags; apply it alone: pgha apply \(given.spec)")])
            throw ExitCode.failure
        }
        var changed: [String] = []
        for input in [saved.spec, saved.inventory] + (saved.templates.map { [$0] } ?? []) {
            if (try? SavedPlan.digest(of: input.path)) != input.sha256 { changed.append(input.path) }
        }
        if !changed.isEmpty {
            report(changed.map { Diagnostic(file: $0, line: 0, column: 0,
                                            message: "changed since the plan \(given.spec) was saved; make a new plan") })
            throw ExitCode.failure
        }
        var inputs = given
        inputs.spec = saved.spec.path
        inputs.inventory = saved.inventory.path
        inputs.templates = saved.templates?.path
        inputs.pcsDialect = saved.pcsDialect
        return inputs
    }
}

func seconds(since date: Date) -> String { String(format: "%.2f s", Date().timeIntervalSince(date)) }

/// What apply did: every step that ran, per-host counts, and the errors.
struct ApplyReport: Codable {
    struct StepRecord: Codable {
        var host: String
        var step: String
        /// changed, unchanged, failed, skipped
        var outcome: String
        var message: String?
        var seconds: Double?
    }
    struct HostSummary: Codable {
        var name: String
        var changed = 0, unchanged = 0, failed = 0, skipped = 0
    }
    var plan: LivePlan
    var steps: [StepRecord]
    var hosts: [HostSummary]
    var ok: Bool
    var seconds: Double

    static func make(plan: LivePlan, outcomes: [String: Outcome], steps: [any Step], spec: ClusterSpec,
                     records: [String: Double], seconds: Double) -> ApplyReport {
        var report = ApplyReport(plan: plan, steps: [], hosts: [], ok: true, seconds: seconds)
        for node in spec.nodes {
            var summary = HostSummary(name: node.name)
            for step in steps where step.host == node.name {
                var record = StepRecord(host: step.host, step: step.name, outcome: "skipped", message: nil, seconds: records[step.id])
                switch outcomes[step.id] {
                case .changed(let change)?: summary.changed += 1; record.outcome = "changed"; record.message = change.summary
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

    func text() -> String {
        var out = "\n"
        for host in hosts {
            out += "\(host.name): \(host.changed) changed, \(host.unchanged) unchanged, \(host.failed) failed, \(host.skipped) skipped\n"
        }
        for step in steps where step.outcome == "failed" {
            out += "error: \(step.host): \(step.step): \(step.message ?? "")\n"
        }
        out += String(format: "Apply %@ in %.1f s.\n", ok ? "complete" : "FAILED", seconds)
        return out
    }
}

/// One line per finished step, as it happens; step times kept for the report.
final class Progress: @unchecked Sendable {
    let live: Bool
    private let lock = NSLock()
    private(set) var records: [String: Double] = [:]
    init(live: Bool) { self.live = live }

    func show(_ event: ExecutionEvent) {
        guard case let .finished(host, step, outcome, seconds) = event else { return }
        lock.lock(); defer { lock.unlock() }
        records["\(host)/\(step)"] = seconds
        guard live else { return }
        let time = String(format: "%5.1fs", seconds)
        let line: String
        switch outcome {
        case .unchanged: line = "  = \(host) \(step) \(time) ok"
        case .changed(let change): line = "  \(change.action.rawValue) \(host) \(step) \(time) \(change.summary)"
        case .failed(let message): line = "  ✗ \(host) \(step) \(time) FAILED: \(message)"
        case .skipped(let why): line = "  - \(host) \(step) skipped: \(why)"
        }
        print(line)
        fflush(stdout)
    }
}
