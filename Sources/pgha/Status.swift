import ArgumentParser
import Foundation
import PghaRuntime
import PghaSession
import PghaSpec

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the cluster as it is: each node's membership, roles, replication, VIPs, locks and failures.",
        discussion: """
            Read-only; one round trip per host, hosts in parallel; no secret is needed. A node that cannot be reached
            is reported, not an error. Exit status: 0 healthy (every node of the spec as it should be), 2 degraded
            (writes are served, something needs attention), 3 down (no writable primary behind the rw VIP), 1 error.
            --format json prints the same report as one JSON document (format 1; see README.md, "pgha status").
            """)

    @OptionGroup var inputs: Inputs

    @Option(help: "text, or json (a stable document for machines).")
    var format: OutputFormat = .text

    @Option(help: "Read again every SECONDS until interrupted (text: the screen is redrawn).")
    var watch: Double?

    @Flag(name: [.short, .long], help: "Show every command run on the hosts (all read-only).")
    var verbose = false

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        if let watch, !(watch >= 0.5) { throw ValidationError("--watch needs at least 0.5 seconds") }
        let session = try await cli { try await StatusSession.open(inputs.session, log: verbose ? log : nil) }
        report(session.loaded.warnings)
        if let pgpool = session.loaded.spec.pgpool { return try await runPgpool(session, pgpool) }
        var report = await session.read()
        while true {
            if format == .json { printJSON(report) } else {
                if watch != nil && isatty(1) != 0 { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(StatusText.render(report, color: isatty(1) != 0), terminator: "")
            }
            guard let watch else { break }
            fflush(stdout)
            try await Task.sleep(nanoseconds: UInt64(watch * 1e9))
            report = await session.read()
        }
        await session.close()
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }

    /// The pgpool topology: pgpool-II's view (backends, watchdog, delegate VIP) and PostgreSQL's.
    func runPgpool(_ session: StatusSession, _ pgpool: PgpoolSpec) async throws {
        var report = await session.readPgpool(pgpool)
        while true {
            if format == .json { printJSON(report) } else {
                if watch != nil && isatty(1) != 0 { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(PgpoolStatusText.render(report, color: isatty(1) != 0), terminator: "")
            }
            guard let watch else { break }
            fflush(stdout)
            try await Task.sleep(nanoseconds: UInt64(watch * 1e9))
            report = await session.readPgpool(pgpool)
        }
        await session.close()
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }
}

/// The text form of a ClusterReport: a summary line, one row per node, the VIPs, the problems.
enum StatusText {
    static func render(_ report: ClusterReport, color: Bool) -> String {
        func paint(_ text: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        let healthColor = report.health == .healthy ? "32" : (report.health == .degraded ? "33" : "31")
        var out = "\(report.cluster): \(paint(report.summary, healthColor))\n"
        let header = ["node", "reachable", "member", "pacemaker", "postgres", "tl", "replication", "lag", "agent", "vips"]
        var rows: [[String]] = [header]
        for node in report.nodes {
            let postgres = node.postgres.running ? (node.postgres.role ?? "?") : "stopped" + (node.postgres.controlState.map { " (\($0))" } ?? "")
            let replication = node.replication.map { "\($0.state) \($0.syncState)" } ?? (node.name == report.primary ? "-" : "none")
            var lag = "-"
            if let r = node.replication {
                lag = r.lagBytes.map(bytes) ?? "?"
                if let s = r.lagSeconds { lag += String(format: " %.3fs", s) }
            }
            let agent = [node.attributes["pgsql-status"], node.attributes["pgsql-data-status"]].compactMap { $0 }.joined(separator: " ")
            rows.append([node.name, node.reachable ? "yes" : "no", node.membership, node.pacemakerRole, postgres,
                         node.postgres.timeline.map(String.init) ?? "-", replication, lag, agent.isEmpty ? "-" : agent,
                         node.vips.isEmpty ? "-" : node.vips.joined(separator: " ")])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (index, row) in rows.enumerated() {
            let line = row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
            let problem = index > 0 && !report.nodes[index - 1].problems.isEmpty
            out += "  " + (index == 0 ? paint(line, "1") : (problem ? paint(line, "33") : line)) + "\n"
        }
        out += "  VIPs: " + report.vips.map { vip in
            "\(vip.name) \(vip.ip) on \(vip.node ?? "no node")\(vip.node == nil ? "" : (vip.answers ? " (answers)" : " (does not answer)"))"
        }.joined(separator: "; ") + "\n"
        for node in report.nodes {
            if !node.failCounts.isEmpty {
                out += "  fail counts on \(node.name): " + node.failCounts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "\n"
            }
        }
        let problems = report.allProblems
        if !problems.isEmpty {
            out += "Problems:\n" + problems.map { "  " + paint("✗", "31") + " " + $0 + "\n" }.joined()
            if report.health != .healthy { out += "`pgha plan` shows what pgha repairs; `pgha apply` carries it out.\n" }
        }
        return out
    }
}
