import Foundation
import PghaRuntime

/// What both topologies' `pgha status` texts share: colours, the headline, the node table, the
/// PostgreSQL and replication cells, and the problems at the end.
struct StatusFormat {
    let color: Bool

    func paint(_ text: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }

    func headline(_ title: String, _ summary: String, _ health: ClusterReport.Health) -> String {
        "\(title): \(paint(summary, health == .healthy ? "32" : (health == .degraded ? "33" : "31")))\n"
    }

    /// The header in bold, a row with problems in yellow, columns padded to their widest cell.
    func table(_ header: [String], _ rows: [(cells: [String], problem: Bool)]) -> String {
        let all = [header] + rows.map(\.cells)
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return "  " + paint(line(header), "1") + "\n" + rows.map { "  " + ($0.problem ? paint(line($0.cells), "33") : line($0.cells)) + "\n" }.joined()
    }

    static func postgres(_ p: ClusterReport.Postgres) -> String {
        p.running ? (p.role ?? "?") : "stopped" + (p.controlState.map { " (\($0))" } ?? "")
    }

    /// The replication and lag cells of a node (the primary: "-").
    static func replication(_ r: ClusterReport.Replication?, isPrimary: Bool) -> (state: String, lag: String) {
        guard let r else { return (isPrimary ? "-" : "none", "-") }
        var lag = r.lagBytes.map(bytes) ?? "?"
        if let s = r.lagSeconds { lag += String(format: " %.3fs", s) }
        return ("\(r.state) \(r.syncState)", lag)
    }

    func problems(_ problems: [String], _ health: ClusterReport.Health) -> String {
        guard !problems.isEmpty else { return "" }
        return "Problems:\n" + problems.map { "  " + paint("✗", "31") + " " + $0 + "\n" }.joined()
            + (health != .healthy ? "`pgha plan` shows what pgha repairs; `pgha apply` carries it out.\n" : "")
    }
}
