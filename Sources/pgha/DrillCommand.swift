import ArgumentParser
import Foundation
import PghaRuntime
import PghaSession

extension DrillFault: ExpressibleByArgument {}

struct DrillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Break a healthy cluster on purpose and measure how it recovers.",
        discussion: """
            Each round: the cluster must be healthy (pgha status exits 0); a writer on another node commits numbered rows \
            through the rw VIP every 0.1 s and a reader asks the ro VIP; the fault; the time until a write succeeds again, \
            until the ro VIP answers again, which node Pacemaker promoted, which acknowledged rows are missing; then the \
            failed node is brought back as pgha apply does (its rejoin may discard commits the new primary never received: \
            shown, the old WAL kept aside) and the time until the cluster is healthy again. Holds the apply lock. The \
            drill's table (public.pgha_drill in database postgres) is dropped at the end. \
            Faults: kill-postgres (SIGKILL to the postmaster), kill-corosync (SIGKILL to corosync; the node is fenced), \
            fence (pcs stonith fence), stop-node (pcs cluster stop); kill-corosync and fence need fencing configured. \
            Exit status: 0 every round recovered (and, with synchronous replication, lost no acknowledged row), 1 otherwise.
            """)

    @OptionGroup var inputs: Inputs

    @Option(help: "What to break: \(DrillFault.allCases.map(\.rawValue).joined(separator: ", ")).")
    var fault: DrillFault

    @Option(help: "Where: primary, standby, or a node's name.")
    var node = "primary"

    @Option(help: "How many times (1 to 20); each starts from a healthy cluster.")
    var rounds = 1

    @Option(help: "text or json (the report on stdout; progress on stderr).")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Do not ask for confirmation (required when stdin is not a terminal).")
    var yes = false

    @Flag(name: [.short, .long], help: "Show every command run on the hosts.")
    var verbose = false

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let loaded = try LoadedSpec.load(inputs, requireInventory: true)
        try cli { try loaded.requirePacemaker("drill") }
        let options = Drill.Options(fault: fault, node: node, rounds: rounds)
        _ = try cli { try Drill.check(options, spec: loaded.spec) }
        if !yes && isatty(0) == 0 {
            log("pgha drill: error: stdin is not a terminal, so there is no one to confirm: add --yes")
            throw ExitCode.failure
        }
        let spec = loaded.spec
        if !yes {
            print("""
                Drill on \(spec.name): \(fault.rawValue) (\(fault.describes)) on \(node), \(rounds) round\(rounds == 1 ? "" : "s").
                This breaks the cluster on purpose: clients see the outage. After each fault pgha rejoins the failed node
                as pgha apply does; with \(spec.replication.mode.rawValue) replication that may discard transactions the new
                primary never received (they are shown; the old WAL is kept aside). Run the drill? Only 'yes' is accepted: 
                """, terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                print("Nothing was changed.")
                throw ExitCode.failure
            }
        }
        let report = try await cli {
            try await Drill.run(inputs.session, options, log: verbose ? log : nil) { line in log(line) }
        }
        switch format {
        case .json: printJSON(report)
        case .text: print(DrillText.render(report), terminator: "")
        }
        if !report.ok { throw ExitCode.failure }
    }
}

/// The drill's report for a terminal: a table of rounds, a summary over them.
enum DrillText {
    static func render(_ report: Drill.Report) -> String {
        func s(_ v: Double?) -> String { v.map { String(format: "%.1f s", $0) } ?? "-" }
        var out = "Drill of \(report.cluster): \(report.fault.rawValue) on \(report.node), \(report.rounds.count) round\(report.rounds.count == 1 ? "" : "s") (\(report.replication) replication)\n"
        let header = ["round", "broken", "promoted", "writes back", "write gap", "ro back", "acked", "missing", "healthy"]
        var rows = [header]
        for r in report.rounds {
            rows.append([String(r.round), r.target, r.promoted ?? "-", s(r.times?.writeRecovery), s(r.times?.writeGap), s(r.times?.readRecovery),
                         String(r.rowsAcknowledged), r.rowsMissing.map(String.init) ?? "?", s(r.healthy)])
        }
        let widths = header.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        for row in rows {
            out += "  " + row.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces) + "\n"
        }
        for r in report.rounds {
            for line in r.repair { out += "  round \(r.round) repair: \(line)\n" }
            if let error = r.error { out += "  round \(r.round) FAILED: \(error)\n" }
        }
        func spread(_ name: String, _ v: DrillSpread?) -> String? {
            v.map { String(format: "%@ min %.1f / median %.1f / max %.1f s", name, $0.min, $0.median, $0.max) }
        }
        let parts = [spread("writes back", report.summary.writeRecovery), spread("ro VIP back", report.summary.readRecovery),
                     spread("healthy", report.summary.healthy)].compactMap { $0 }
        out += "Summary over \(report.rounds.count) round\(report.rounds.count == 1 ? "" : "s"): \(parts.joined(separator: "; ")); \(report.summary.rowsMissing) acknowledged row\(report.summary.rowsMissing == 1 ? "" : "s") missing\n"
        out += report.ok ? "Drill passed.\n" : "Drill FAILED.\n"
        return out
    }
}
