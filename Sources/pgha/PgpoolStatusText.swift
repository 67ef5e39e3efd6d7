import Foundation
import PghaRuntime

/// The text form of a PgpoolReport: a summary line, one row per node (pgpool, its watchdog
/// state, the node as pgpool's backend, PostgreSQL, replication), the delegate VIP, the problems.
enum PgpoolStatusText {
    static func render(_ report: PgpoolReport, color: Bool) -> String {
        func paint(_ text: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        let healthColor = report.health == .healthy ? "32" : (report.health == .degraded ? "33" : "31")
        var out = "\(report.cluster) (pgpool-II): \(paint(report.summary, healthColor))\n"
        let header = ["node", "reachable", "pgpool", "watchdog", "backend", "postgres", "tl", "replication", "lag", "vip"]
        var rows: [[String]] = [header]
        for node in report.nodes {
            let postgres = node.postgres.running ? (node.postgres.role ?? "?") : "stopped" + (node.postgres.controlState.map { " (\($0))" } ?? "")
            let replication = node.replication.map { "\($0.state) \($0.syncState)" } ?? (node.name == report.primary ? "-" : "none")
            var lag = "-"
            if let r = node.replication {
                lag = r.lagBytes.map(bytes) ?? "?"
                if let s = r.lagSeconds { lag += String(format: " %.3fs", s) }
            }
            let backend = node.backend.map { "\($0.status) \($0.role)" } ?? "-"
            rows.append([node.name, node.reachable ? "yes" : "no", node.reachable ? (node.pgpoolRunning ? "running" : "stopped") : "?",
                         node.watchdog?.lowercased() ?? "-", backend, postgres, node.postgres.timeline.map(String.init) ?? "-",
                         replication, lag, node.holdsVIP ? report.vip : "-"])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (index, row) in rows.enumerated() {
            let line = row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
            let problem = index > 0 && !report.nodes[index - 1].problems.isEmpty
            out += "  " + (index == 0 ? paint(line, "1") : (problem ? paint(line, "33") : line)) + "\n"
        }
        out += "  Delegate VIP \(report.vip) on \(report.vipHolder ?? "no node")"
            + (report.vipHolder == nil ? "" : (report.vipAnswers ? " (pgpool answers)" : " (pgpool does not answer)"))
            + "; watchdog leader \(report.leader ?? "none")\(report.quorum ? ", quorum" : ", no quorum")\n"
        let problems = report.allProblems
        if !problems.isEmpty {
            out += "Problems:\n" + problems.map { "  " + paint("✗", "31") + " " + $0 + "\n" }.joined()
            if report.health != .healthy { out += "`pgha plan` shows what pgha repairs; `pgha apply` carries it out.\n" }
        }
        return out
    }
}
