import Foundation
import PghaRuntime

/// A live plan: per host, what apply would change. Codable: `--format json` prints it and
/// `plan --out` saves it.
public struct LivePlan: Codable, Equatable, Sendable {
    public struct Change: Codable, Equatable, Sendable {
        public var step: String
        /// What apply would do; nil when the step cannot decide as the host is (apply would
        /// fail): then `summary` says why.
        public var action: Action?
        public var summary: String
        public var diff: String?
        public init(step: String, action: Action?, summary: String, diff: String?) {
            self.step = step
            self.action = action
            self.summary = summary
            self.diff = diff
        }
        public var isError: Bool { action == nil }
        var symbol: String { action?.symbol ?? "✗" }
    }
    public struct Host: Codable, Equatable, Sendable {
        public var name: String
        public var address: String
        public var unchanged: Int
        public var changes: [Change]
        public init(name: String, address: String, unchanged: Int, changes: [Change]) {
            self.name = name
            self.address = address
            self.unchanged = unchanged
            self.changes = changes
        }
    }
    public var cluster: String
    public var pcsDialect: String
    public var pcsDialectNote: String
    public var hosts: [Host]
    /// What each host runs (OS, pcs, Pacemaker, Corosync, resource-agents, PostgreSQL), said after the dialect.
    public var platform: [String]? = nil
    /// Said before the hosts: an apply running now (its lock), when there is one.
    public var notes: [String]? = nil

    public init(cluster: String, pcsDialect: String, pcsDialectNote: String, hosts: [Host]) {
        self.cluster = cluster
        self.pcsDialect = pcsDialect
        self.pcsDialectNote = pcsDialectNote
        self.hosts = hosts
    }

    public var pendingCount: Int { hosts.reduce(0) { $0 + $1.changes.count } }
    public var errors: [(host: String, change: Change)] {
        hosts.flatMap { host in host.changes.filter(\.isError).map { (host.name, $0) } }
    }

    /// The plan as people read it; `!` (destructive) and errors in red on a terminal.
    public func text(color: Bool) -> String {
        func red(_ s: String) -> String { color ? "\u{1B}[31m\(s)\u{1B}[0m" : s }
        var out = "\(pcsDialectNote)\n"
        for line in platform ?? [] { out += "Hosts: \(line)\n" }
        for note in notes ?? [] { out += "Note: \(note)\n" }
        for host in hosts {
            out += "\(host.name) (\(host.address)): \(host.changes.count) to change, \(host.unchanged) already right\n"
            for change in host.changes {
                let name = change.step.padding(toLength: 20, withPad: " ", startingAt: 0)
                let line = change.isError
                    ? "  ✗ \(name) cannot be applied: \(change.summary)"
                    : "  \(change.symbol) \(name) \(change.summary)"
                out += (change.action == .destructive || change.isError ? red(line) : line) + "\n"
                if let diff = change.diff, !diff.isEmpty {
                    for line in diff.split(separator: "\n", omittingEmptySubsequences: false).reversed().drop(while: \.isEmpty).reversed() {
                        out += "      \(line)\n"
                    }
                }
            }
        }
        return out
    }

    /// Step ids whose planned change differs between two plans, with what moved.
    public func moved(since saved: LivePlan) -> [String] {
        func index(_ plan: LivePlan) -> [String: Change] {
            var all: [String: Change] = [:]
            for host in plan.hosts { for change in host.changes { all["\(host.name)/\(change.step)"] = change } }
            return all
        }
        let now = index(self), then = index(saved)
        var moved: [String] = []
        for id in Set(now.keys).union(then.keys).sorted() {
            switch (then[id], now[id]) {
            case let (a?, b?) where a != b: moved.append("\(id): was '\(a.symbol) \(a.summary)', now '\(b.symbol) \(b.summary)'")
            case let (a?, nil): moved.append("\(id): was '\(a.symbol) \(a.summary)', now already right")
            case let (nil, b?): moved.append("\(id): not in the saved plan, now '\(b.symbol) \(b.summary)'")
            default: break
            }
        }
        return moved
    }
}
