import Foundation
import PghaRuntime

/// The text form of a PgpoolReport: a summary line, one row per node (pgpool, its watchdog
/// state, the node as pgpool's backend, PostgreSQL, replication), the delegate VIP, the problems.
enum PgpoolStatusText {
    static func render(_ report: PgpoolReport, color: Bool) -> String {
        let f = StatusFormat(color: color)
        var out = f.headline("\(report.cluster) (pgpool-II)", report.summary, report.health)
        let header = ["node", "reachable", "pgpool", "watchdog", "backend", "postgres", "tl", "replication", "lag", "vip"]
        let rows = report.nodes.map { node -> (cells: [String], problem: Bool) in
            let replication = StatusFormat.replication(node.replication, isPrimary: node.name == report.primary)
            return ([node.name, node.reachable ? "yes" : "no", node.reachable ? (node.pgpoolRunning ? "running" : "stopped") : "?",
                     node.watchdog?.lowercased() ?? "-", node.backend.map { "\($0.status) \($0.role)" } ?? "-", StatusFormat.postgres(node.postgres),
                     node.postgres.timeline.map(String.init) ?? "-", replication.state, replication.lag, node.holdsVIP ? report.vip : "-"],
                    !node.problems.isEmpty)
        }
        out += f.table(header, rows)
        out += "  Delegate VIP \(report.vip) on \(report.vipHolder ?? "no node")"
            + (report.vipHolder == nil ? "" : (report.vipAnswers ? " (pgpool answers)" : " (pgpool does not answer)"))
            + "; watchdog leader \(report.leader ?? "none")\(report.quorum ? ", quorum" : ", no quorum")\n"
        return out + f.problems(report.allProblems, report.health)
    }
}
