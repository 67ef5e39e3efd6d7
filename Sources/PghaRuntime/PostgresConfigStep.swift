import Foundation
import PghaShell
import PghaRender
import PghaSpec

/// postgresql.conf or pg_hba.conf: the file step, plus what a running server needs to see the
/// change. A reload is enough for most settings and for pg_hba.conf; a setting PostgreSQL reads
/// only at start (context "postmaster") needs a restart, which pgha does through Pacemaker, and
/// only on a standby: restarting the primary is a failover, so it is shown and left to the user.
public struct PostgresConfigStep: Step {
    public var file: FileStep
    public var binDir: String
    public var dataDir: String
    public var osUser: String
    public var port: Int
    /// The promotable clone, for `pcs resource restart CLONE NODE`.
    public var clone: String
    public var pgsqlResource: String
    /// SharedFacts.pg: the server's role, restart-only and pending settings.
    public var sharedState: SharedFacts.Value

    public var host: String { file.host }
    public var name: String { file.name }
    public var summary: String { file.summary }
    public var dependsOn: [String] {
        get { file.dependsOn }
        set { file.dependsOn = newValue }
    }
    var isMainConfig: Bool { file.file.path.hasSuffix("/postgresql.conf") }

    public init(file: FileStep, binDir: String, dataDir: String, osUser: String, port: Int, clone: String, pgsqlResource: String,
                sharedState: SharedFacts.Value) {
        self.sharedState = sharedState
        self.file = file
        self.binDir = binDir
        self.dataDir = dataDir
        self.osUser = osUser
        self.port = port
        self.clone = clone
        self.pgsqlResource = pgsqlResource
    }

    var tools: PostgresTools { PostgresTools(binDir: binDir, user: osUser, port: port, dataDir: dataDir) }

    public func probe(_ script: inout FactScript) {
        file.probe(&script)
        script.add("pg.running", "\(tools.pgCtl("status")) >/dev/null 2>&1 && echo yes || echo no")
        script.share(SharedFacts.cib.variable, SharedFacts.cib.command)
        script.add("cluster.managed", SharedFacts.cibHas(pgsqlResource))
        guard isMainConfig else { return }
        // The role, the settings only a restart applies, and those waiting for one.
        script.share(sharedState.variable, sharedState.command)
        script.add("pg.settings", "printf '%s\\n' \(sharedState.variable.expansion) | grep -E '^(role|restart|pending)='")
    }

    struct Settings {
        var role: String?
        var restartOnly: Set<String> = []
        var pending: [String] = []
        init(_ text: String?) {
            for line in (text ?? "").split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "role": role = parts[1]
                case "restart": restartOnly.insert(parts[1])
                case "pending": pending.append(parts[1])
                default: break
                }
            }
        }
    }

    /// Settings whose value differs between two postgresql.conf texts (added, removed or changed).
    public static func changedSettings(_ old: String, _ new: String) -> [String] {
        func parse(_ text: String) -> [String: String] {
            var values: [String: String] = [:]
            for raw in text.split(separator: "\n") {
                let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
                guard let eq = line.firstIndex(where: { $0 == "=" || $0 == " " || $0 == "\t" }) else { continue }
                let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
                guard !key.isEmpty, key != "include", key != "include_if_exists", key != "include_dir" else { continue }
                var value = line[eq...].trimmingCharacters(in: .whitespaces)
                if value.hasPrefix("=") { value = value.dropFirst().trimmingCharacters(in: .whitespaces) }
                values[key] = value
            }
            return values
        }
        let a = parse(old), b = parse(new)
        return Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
    }

    /// Settings the running server waits to restart for, and the restart-only settings this
    /// write changes (they need a restart unless the server already runs with the new value,
    /// which only the server can tell after a reload).
    func restartSettings(_ facts: Facts) -> (pending: [String], changed: [String]) {
        guard isMainConfig, facts["pg.running"] == "yes" else { return ([], []) }
        let settings = Settings(facts["pg.settings"])
        guard let existing = facts.file(file.file.path), let current = existing.content else {
            return (settings.pending, [])
        }
        let desired = FileDecision.desiredContent(file.file, existing: existing)
        return (settings.pending, Self.changedSettings(current, desired).filter { settings.restartOnly.contains($0) })
    }

    public func decide(_ facts: Facts) throws -> Change? {
        let fileChange = try file.decide(facts)
        let (pending, changed) = restartSettings(facts)
        guard fileChange != nil || !pending.isEmpty else { return nil }
        var parts = fileChange.map { [$0.summary] } ?? []
        if facts["pg.running"] == "yes" {
            let managed = facts["cluster.managed"] == "yes"
            let restart = Array(Set(pending + changed)).sorted()
            let names = "\(restart.joined(separator: ", ")) \(restart.count == 1 ? "waits" : "wait")"
            var action = "reload PostgreSQL"
            if restart.isEmpty {
            } else if managed && Settings(facts["pg.settings"]).role == "primary" {
                // Restarting the primary is a failover: the user chooses when.
                action += "; if \(names) for a restart of this primary, that is a failover, which pgha leaves to you: switch over in a quiet moment, then re-run apply"
            } else {
                action += ", then restart it (\(managed ? "through Pacemaker" : "pg_ctl")) if \(names) for a restart"
            }
            parts.append(action)
        }
        return Change(fileChange?.action ?? .update, parts.joined(separator: "; "), diff: fileChange?.diff)
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        if try file.decide(facts) != nil {
            try await file.apply(change, facts: facts, on: connection)
        }
        guard facts["pg.running"] == "yes" else { return }
        // SIGHUP is asynchronous: wait until the server has read its files again, then ask it
        // which settings still wait for a restart.
        let loadTime = tools.psql("select pg_conf_load_time()")
        let reload = Shell.lines([
            "before=$(\(loadTime))",
            "\(tools.pgCtl("reload")) >/dev/null || exit 1",
            Shell.waitQuietly(until: "[ \"$(\(loadTime))\" != \"$before\" ]", tries: 50, interval: 0.1),
            tools.psql("select name from pg_settings where pending_restart"),
        ])
        let pending = try await run(reload, on: connection, display: "pg_ctl reload; list settings pending a restart")
            .stdout.split(separator: "\n").map(String.init)
        guard isMainConfig, !pending.isEmpty else { return }
        let managed = facts["cluster.managed"] == "yes"
        if managed && Settings(facts["pg.settings"]).role == "primary" {
            throw StepFailure(host: host, step: name, message: "the file is written and reloaded, but \(pending.joined(separator: ", ")) wait for a restart of the primary, which pgha does not do (it is a failover)")
        }
        if managed {
            // Pacemaker stops and starts this node's instance; the agent brings it back as a standby.
            _ = try await run(Command("pcs", "resource", "restart", clone, host, "--wait=120"), on: connection)
            let streaming: Shell = "[ \"$(\(tools.psql("select status from pg_stat_wal_receiver")) 2>/dev/null)\" = streaming ]"
            _ = try await run(Shell.waitUntil(streaming, tries: 120, interval: 0.5, failure: "the standby did not stream again within 60 s"),
                              on: connection, display: "wait for streaming")
        } else {
            // Before Pacemaker takes over (bootstrap): pg_ctl restart reuses the start options.
            _ = try await run(tools.pgCtl("restart", ["-m", "fast", "-w", "-t", "60"]), on: connection)
        }
    }
}
