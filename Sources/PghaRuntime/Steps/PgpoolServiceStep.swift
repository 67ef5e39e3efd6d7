import Foundation
import PghaShell
import PghaSpec

/// pgpool-II running with the files as written: started (and enabled at boot) where it does not
/// run; reloaded where only what pgpool re-reads on SIGHUP changed; restarted otherwise. One node
/// at a time: the catalog orders the nodes' service steps, so the watchdog keeps a leader and
/// the VIP.
///
/// What pgpool loaded is known from a stamp pgha writes after each start, restart or reload
/// (`/run/pgha/pgpool.loaded`: the files' SHA-256, and a copy of pgpool.conf): a changed file is
/// compared with it, and pgpool.conf key by key. Without a stamp (Debian starts pgpool2 with its
/// default configuration when the package is installed; a reboot empties /run) a file newer than
/// the running pgpool means a restart.
public struct PgpoolServiceStep: Step {
    public let host: String
    public let name = "pgpool-service"
    public var dependsOn: [String] = []
    let pgpool: PgpoolSpec
    let files: [String]
    /// This node's address and the PostgreSQL OS user: pgha asks the running pgpool for its
    /// settings (`pgpool show all`) as the health-check user, its password in that user's ~/.pgpass.
    let address: String
    let osUser: String
    /// pgpool.conf as the spec renders it: what pgpool must run with once the file step before
    /// this one wrote it (in a plan, the host's file is still the old one; the file step reads
    /// and repairs that file, this step compares the spec's with what pgpool runs with).
    let desiredConf: String
    static let unit = "pgpool2"
    static let stampDir = "/run/pgha"
    static let stamp = stampDir + "/pgpool.loaded"
    static let loadedConf = stampDir + "/pgpool.conf.loaded"

    public init(host: String, pgpool: PgpoolSpec, files: [String], address: String, osUser: String, desiredConf: String) {
        self.host = host
        self.desiredConf = desiredConf
        self.pgpool = pgpool
        self.files = files
        self.address = address
        self.osUser = osUser
    }

    var conf: String { pgpool.configDir + "/pgpool.conf" }

    public var summary: String {
        "start pgpool-II (\(Self.unit)) on port \(pgpool.port), enabled at boot; reload it when only reloadable settings changed, else restart it"
    }

    public struct State: Sendable {
        public var running: Bool
        public var enabled: Bool
        /// Files newer than the running pgpool (used without a stamp).
        public var stale: [String]
        /// With a stamp: the files whose content is not what pgpool loaded.
        public var changed: [String]?

        public init(running: Bool, enabled: Bool, stale: [String], changed: [String]?) {
            self.running = running
            self.enabled = enabled
            self.stale = stale
            self.changed = changed
        }
    }

    var state: Probe<State> {
        let started: Shell = "started=$(( $(date +%s) - $(ps -C pgpool -o etimes= | sort -n | tail -1 | tr -d ' ') ))"
        let stale = files.map { file -> Shell in
            let line: String = "stale=" + file
            return "[ \"$(stat -c %Y \(file) 2>/dev/null || echo 0)\" -ge \"$started\" ] && echo \(line)"
        }
        let changed = files.map { file -> Shell in
            let line: String = "changed=" + file
            return "grep -qxF \"$(sha256sum \(file) 2>/dev/null)\" \(Self.stamp) || echo \(line)"
        }
        let enabled: Shell = "systemctl is-enabled \(Self.unit) >/dev/null 2>&1 && echo enabled=yes || echo enabled=no"
        return Probe("pgpool.service", """
            \(enabled)
            if pgrep -x pgpool >/dev/null; then echo running=yes; \(started); \(Shell.join(stale, separator: "; ")); true
              if [ -f \(Self.stamp) ]; then echo stamp=yes; \(Shell.join(changed, separator: "; ")); true; fi
            else echo running=no; fi
            """) { text in
            let lines = text.split(separator: "\n").map(String.init)
            func values(_ prefix: String) -> [String] { lines.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } }
            return State(running: lines.contains("running=yes"), enabled: lines.contains("enabled=yes"), stale: values("stale="),
                         changed: lines.contains("stamp=yes") ? values("changed=") : nil)
        }
    }

    /// pgpool.conf as pgpool loaded it (the stamp's copy).
    var loaded: Probe<String> { Probe("pgpool.conf-loaded", "cat \(Self.loadedConf) 2>/dev/null || true") }

    /// The running pgpool's settings (`pgpool show all`: item|value|description), empty when it
    /// does not answer.
    var live: Probe<[String: String]> {
        let show = Command(["psql", "-h", address, "-p", String(pgpool.port), "-U", pgpool.healthCheck.user, "-d", "postgres",
                            "-X", "-A", "-t", "-w", "-c", "pgpool show all"], user: osUser)
        return Probe("pgpool.live-settings", "\(show) 2>/dev/null || true") { PgpoolConf.showAll($0) }
    }

    public func probe(_ script: inout FactScript) {
        script.add(state)
        script.add(loaded)
        script.add(live)
    }

    public enum Action: Equatable, Sendable { case start, restart(String), reload(String), enable }

    /// What to do, from the state and pgpool.conf as loaded and as the spec has it (`current`; pure).
    public static func action(_ s: State, loaded: String, current: String, conf: String, live: [String: String] = [:]) -> Action? {
        if !s.running { return .start }
        func names(_ paths: [String]) -> String { paths.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ") }
        // What pgpool runs with, when it says: each setting of the file against it (a setting
        // edited and reloaded by hand is found too, which a stamp of pgha's cannot know).
        if !live.isEmpty {
            let differ = PgpoolConf.liveDifferences(file: current, live: live, loaded: loaded.isEmpty ? nil : loaded)
            let others = (s.changed ?? []).filter { $0 != conf }
            if let file = others.first(where: { $0.hasSuffix("/pgpool_node_id") || $0.hasSuffix("/pcp.conf") }) {
                return .restart("\(names([file])) changed (read at start)")
            }
            let restartOnly = differ.filter { !PgpoolConf.reloadable($0) }
            if !restartOnly.isEmpty { return .restart("runs with other \(restartOnly.joined(separator: ", ")) (read at start only)") }
            if !differ.isEmpty || !others.isEmpty {
                return .reload((differ.map { "runs with another \($0)" } + others.map { "\(names([$0])) changed" }).joined(separator: ", ") + " (reloadable)")
            }
            return s.enabled ? nil : .enable
        }
        guard let changed = s.changed else {
            if !s.stale.isEmpty { return .restart("it runs with older \(names(s.stale))") }
            return s.enabled ? nil : .enable
        }
        if changed.isEmpty { return s.enabled ? nil : .enable }
        // pool_hba.conf and pool_passwd are read again on SIGHUP; pgpool_node_id and (to be sure)
        // pcp.conf at start.
        if let file = changed.first(where: { $0.hasSuffix("/pgpool_node_id") || $0.hasSuffix("/pcp.conf") }) {
            return .restart("\(names([file])) changed (read at start)")
        }
        guard changed.contains(conf) else { return .reload("\(names(changed)) changed") }
        let keys = PgpoolConf.changedKeys(loaded, current)
        let restartOnly = keys.filter { !PgpoolConf.reloadable($0) }
        if !restartOnly.isEmpty { return .restart("\(restartOnly.joined(separator: ", ")) changed (read at start only)") }
        let others = changed.filter { $0 != conf }
        return .reload(([keys.isEmpty ? "pgpool.conf's comments" : keys.joined(separator: ", ")] + others.map { ($0 as NSString).lastPathComponent })
            .joined(separator: ", ") + " changed (reloadable)")
    }

    public func decide(_ facts: Facts) throws -> Change? {
        switch Self.action(facts[state], loaded: facts[loaded], current: desiredConf, conf: conf, live: facts[live]) {
        case nil: return nil
        case .start?: return Change(.create, "start \(Self.unit)\(facts[state].enabled ? "" : " and enable it at boot")")
        case .enable?: return Change(.update, "enable \(Self.unit) at boot")
        case .restart(let why)?: return Change(.update, "restart \(Self.unit): \(why)")
        case .reload(let why)?: return Change(.update, "reload \(Self.unit): \(why)")
        }
    }

    /// The stamp of what pgpool loaded: the files' SHA-256 and a copy of pgpool.conf, in a
    /// directory of root's.
    var writeStamp: Shell {
        let files = Shell.join(self.files.map { "sha256sum \($0)" }, separator: "; ")
        return "mkdir -p -m 0700 \(Self.stampDir) && { \(files); } > \(Self.stamp).new && mv \(Self.stamp).new \(Self.stamp) && cp \(conf) \(Self.loadedConf)"
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        let s = facts[state]
        let action = Self.action(s, loaded: facts[loaded], current: desiredConf, conf: conf, live: facts[live])
        if !s.enabled { _ = try await run(Command("systemctl", "enable", Self.unit).shell, on: connection) }
        switch action {
        case nil, .enable?: return
        case .reload?:
            _ = try await run(Command("systemctl", "reload", Self.unit).shell, on: connection)
            try await waitReloaded(on: connection)
            _ = try await run(writeStamp, on: connection, display: "record what pgpool loaded (\(Self.stamp))")
            return
        case .restart?:
            // pgpool's fast shutdown (SIGINT) has been seen to hang with children left: after 20 s
            // its processes are killed, as systemd would after its stop timeout (90 s). Without a
            // stamp it is the package's own pgpool (Debian starts it with its defaults; its stop
            // hung 20 s in 1 of 3 bootstraps): 5 s.
            let limit = s.changed == nil ? 5 : 20
            let stop: Shell = "\(Command("timeout", String(limit), "systemctl", "stop", Self.unit)) || true"
            let kill: Shell = "if pgrep -x pgpool >/dev/null; then \(Command("systemctl", "kill", "--signal=SIGKILL", Self.unit)) 2>/dev/null; \(Command("pkill", "-KILL", "-x", "pgpool")); fi; true"
            _ = try await run(Shell.join([stop, kill]), on: connection, display: "systemctl stop \(Self.unit) (at most \(limit) s, then SIGKILL)")
            _ = try await run(Shell.waitUntil("! pgrep -x pgpool >/dev/null", tries: 20, interval: 0.5,
                                              failure: "pgpool did not stop"), on: connection, display: "wait until pgpool stopped")
        case .start?: break
        }
        _ = try await run(writeStamp, on: connection, display: "record what pgpool loads (\(Self.stamp))")
        _ = try await run(Command("systemctl", "start", Self.unit).shell, on: connection)
        let open: Shell = "exec 3<>/dev/tcp/127.0.0.1/\(String(pgpool.port))"
        _ = try await run(Shell.waitUntil("\(Command("timeout", "1", "bash", "-c", open.text)) 2>/dev/null", tries: 60, interval: 0.5,
                                          failure: "pgpool does not answer on port \(pgpool.port) within 30 s; see its log"),
                          on: connection, display: "wait until pgpool answers on port \(pgpool.port)")
    }
}

extension PgpoolServiceStep {
    /// After the SIGHUP each pgpool child reads pgpool.conf again on its own, and a connection
    /// lands on any child: a plan right after a reload once saw the old value (CI, test_40).
    /// Waits until 5 connections in a row report the spec's values (at most 15 s; a setting
    /// pgpool still reports otherwise is then the step's "did not converge").
    func waitReloaded(on connection: HostConnection) async throws {
        let desired = desiredConf
        var agreeing = 0
        for _ in 0..<60 {
            let text = (try? await connection.run(live.command, stdin: nil))?.stdout ?? ""
            let now = PgpoolConf.showAll(text)
            if !now.isEmpty && PgpoolConf.liveDifferences(file: desired, live: now).isEmpty {
                agreeing += 1
                if agreeing == 5 { return }
                continue
            }
            agreeing = 0
            try await Task.sleep(nanoseconds: 250_000_000)
        }
    }
}

/// pgpool.conf read as pgpool reads it (`key = value`, `#` comments), and which settings a
/// reload (SIGHUP) applies: pgpool-II's documentation marks each parameter "can be changed by
/// reloading" or "only at server start"; a start-only one changed on reload is ignored without a
/// word (measured with 4.3.5: num_init_children, wd_heartbeat_deadtime).
public enum PgpoolConf {
    public static func settings(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.isEmpty { continue }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            line = String(line[line.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            if !line.hasPrefix("'"), let hash = line.firstIndex(of: "#") { line = String(line[..<hash]).trimmingCharacters(in: .whitespaces) }
            out[key] = line
        }
        return out
    }

    /// A value as pgpool reports it: without the quotes of the file ('' for a quote).
    public static func unquoted(_ value: String) -> String {
        guard value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") else { return value }
        return String(value.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
    }

    /// `pgpool show all` (item|value|description, one per line) as item (lower case) → value.
    public static func showAll(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            if fields.count >= 2 { out[fields[0].lowercased()] = fields[1] }
        }
        return out
    }

    /// Units `pgpool show all` appends to a number (4.3: `wd_interval` 2 → `2s`,
    /// `delay_threshold` → `10000000B`); passwords and `pool_passwd` are shown as `*****`.
    static let units: Set<String> = ["B", "kB", "MB", "GB", "ms", "s", "min", "h", "d"]
    static let masked = "*****"

    /// Whether the running value is the file's value as pgpool shows it.
    public static func same(file value: String, running: String) -> Bool {
        let v = unquoted(value)
        if v == running || running == masked { return true }
        guard !v.isEmpty, v.allSatisfy({ $0.isNumber || $0 == "-" }), running.hasPrefix(v) else { return false }
        return units.contains(String(running.dropFirst(v.count)))
    }

    /// Settings of the file whose running value (`pgpool show all`) is another, sorted; a
    /// setting pgpool does not list (keys compared in lower case, as pgpool lists them) is not
    /// compared.
    /// A setting pgpool shows wrongly is compared with the file pgpool was started with
    /// (`loaded`) instead, when there is one.
    public static func liveDifferences(file: String, live: [String: String], loaded: String? = nil) -> [String] {
        let started = loaded.map(settings)
        return settings(file).compactMap { key, value in
            guard let running = live[key.lowercased()] else { return nil }
            if misreported(key, running: running) {
                guard let was = started?[key] else { return nil }
                return unquoted(was) == unquoted(value) ? nil : key
            }
            return same(file: value, running: running) ? nil : key
        }.sorted()
    }

    /// pgpool-II 4.6.1's `pgpool show all` reports delegate_ip as another setting's name
    /// (`IntervalStyle`, recorded on the bed: Tests/Fixtures/pgpool/show-all-4.6.1-node1.txt),
    /// though pgpool runs with the file's address (its if_up_cmd has it): a value that is no IP
    /// address there says nothing.
    public static func misreported(_ key: String, running: String) -> Bool {
        guard key.lowercased() == "delegate_ip", !running.isEmpty else { return false }
        let v4 = running.split(separator: ".", omittingEmptySubsequences: false)
        let isV4 = v4.count == 4 && v4.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }
        let isV6 = running.contains(":") && running.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        return !(isV4 || isV6)
    }

    /// Keys whose value differs (added, removed or changed), sorted.
    public static func changedKeys(_ a: String, _ b: String) -> [String] {
        let x = settings(a), y = settings(b)
        return Set(x.keys).union(y.keys).filter { x[$0] != y[$0] }.sorted()
    }

    static let reloadablePrefixes = ["health_check_", "sr_check_", "recovery_", "log_", "backend_weight", "backend_flag",
                                     "backend_application_name", "client_idle_limit", "authentication_timeout"]
    static let reloadableKeys: Set<String> = ["failover_command", "follow_primary_command", "follow_master_command", "failback_command",
                                              "delay_threshold", "enable_pool_hba", "auto_failback", "auto_failback_interval",
                                              "log_min_messages", "search_primary_node_timeout", "detach_false_primary",
                                              "allow_clear_text_frontend_auth", "connection_life_time", "child_life_time", "child_max_connections"]

    public static func reloadable(_ key: String) -> Bool {
        reloadableKeys.contains(key) || reloadablePrefixes.contains { key.hasPrefix($0) }
    }
}
