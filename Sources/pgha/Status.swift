import ArgumentParser
import Foundation
import PghaRuntime
import PghaSession

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
        if let pgpool = session.loaded.spec.pgpool {
            // The pgpool topology: pgpool-II's view (backends, watchdog, delegate VIP) and PostgreSQL's.
            try await show(session, read: { await session.readPgpool(pgpool) }, exit: \.exitStatus,
                           text: { PgpoolStatusText.render($0, color: $1) })
        } else {
            try await show(session, read: { await session.read() }, exit: \.exitStatus, text: { StatusText.render($0, color: $1) })
        }
    }

    /// Prints a reading (again every --watch seconds), closes the session, exits with the last
    /// reading's status.
    func show<Report: Encodable>(_ session: StatusSession, read: () async -> Report, exit: KeyPath<Report, Int32>,
                                 text: (Report, Bool) -> String) async throws {
        var report = await read()
        while true {
            if format == .json { printJSON(report) } else {
                if watch != nil && isatty(1) != 0 { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(text(report, isatty(1) != 0), terminator: "")
            }
            guard let watch else { break }
            fflush(stdout)
            try await Task.sleep(nanoseconds: UInt64(watch * 1e9))
            report = await read()
        }
        await session.close()
        if report[keyPath: exit] != 0 { throw ExitCode(report[keyPath: exit]) }
    }
}

/// The text form of a ClusterReport: a summary line, one row per node, the VIPs, the problems.
enum StatusText {
    static func render(_ report: ClusterReport, color: Bool) -> String {
        let f = StatusFormat(color: color)
        var out = f.headline(report.cluster, report.summary, report.health)
        let header = ["node", "reachable", "member", "pacemaker", "postgres", "tl", "replication", "lag", "agent", "vips"]
        let rows = report.nodes.map { node -> (cells: [String], problem: Bool) in
            let replication = StatusFormat.replication(node.replication, isPrimary: node.name == report.primary)
            let agent = [node.attributes["pgsql-status"], node.attributes["pgsql-data-status"]].compactMap { $0 }.joined(separator: " ")
            return ([node.name, node.reachable ? "yes" : "no", node.membership, node.pacemakerRole, StatusFormat.postgres(node.postgres),
                     node.postgres.timeline.map(String.init) ?? "-", replication.state, replication.lag, agent.isEmpty ? "-" : agent,
                     node.vips.isEmpty ? "-" : node.vips.joined(separator: " ")], !node.problems.isEmpty)
        }
        out += f.table(header, rows)
        out += "  VIPs: " + report.vips.map { vip in
            "\(vip.name) \(vip.ip) on \(vip.node ?? "no node")\(vip.node == nil ? "" : (vip.answers ? " (answers)" : " (does not answer)"))"
        }.joined(separator: "; ") + "\n"
        for node in report.nodes {
            if !node.failCounts.isEmpty {
                out += "  fail counts on \(node.name): " + node.failCounts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "\n"
            }
        }
        return out + f.problems(report.allProblems, report.health)
    }
}
