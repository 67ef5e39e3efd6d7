import Foundation
import PghaRender
import PghaShell
import PghaSpec

// The steps of the pgpool topology (seed 004_c3f681306b8e49e1.txt): pgpool-II's packages, its
// users in PostgreSQL, its service, and the check that the delegate VIP answers. The files are
// FileSteps (PgpoolConfigStep for the ones pgpool reads at start or reload).

/// Where the pgpool topology keeps a standby's primary_conninfo (templates/pgpool-standby-conf.sh.stencil).
enum PgpoolPaths {
    static func standbyFile(_ pg: ClusterSpec.PostgreSQL) -> String {
        pg.dataDir + (pg.version >= 12 ? "/pgha-standby.conf" : "/recovery.conf")
    }
}

extension PackagesStep {
    /// pgpool-II and the server extension online recovery needs, sudo and arping for the VIP.
    public static func pgpool(host: String, pgpool: PgpoolSpec) -> PackagesStep {
        PackagesStep(host: host, name: "pgpool-packages", packages: pgpool.packages,
                     summary: "ensure installed: \(pgpool.packages.joined(separator: " "))")
    }
}

/// The users pgpool-II logs in as and lets clients log in as (`pgpool.users`): LOGIN roles on the
/// primary with the spec's passwords (a SCRAM verifier sent on stdin; the stored verifier never
/// leaves the host: StoredPassword), and pg_monitor for the health and replication checks
/// (SHOW pool_nodes' replication state reads pg_stat_replication).
public struct PgpoolUsersStep: Step {
    public let host: String
    public let name = "pgpool-users"
    public var dependsOn: [String] = []
    let probes: ServerProbes
    let users: [(name: String, password: String)]
    let checkers: Set<String>

    public init(host: String, probes: ServerProbes, users: [(name: String, password: String)]) {
        self.host = host
        self.probes = probes
        self.users = users
        let pgpool = probes.spec.pgpool
        self.checkers = Set([pgpool?.healthCheck.user, pgpool?.srCheckUser].compactMap { $0 })
    }

    public var summary: String {
        "roles \((probes.spec.pgpool?.users.map(\.name) ?? []).joined(separator: ", ")) LOGIN with their passwords from pgpool.users (sensitive, on stdin); pg_monitor for \(checkers.sorted().joined(separator: ", "))"
    }

    /// Per user: "NAME STORED-PASSWORD MONITOR" (StoredPassword's form; monitor t/f), or nothing
    /// when the server does not answer.
    var state: Probe<[String: (password: StoredPassword, monitor: Bool)]> {
        let rows = users.map { user -> String in
            let literal = sqlLiteral(user.name)
            return "select \(literal) || ' ' || replace(\(StoredPassword.sql(role: user.name)), ' ', ',') || ' ' || coalesce((select pg_has_role(oid, 'pg_monitor', 'member')::text from pg_roles where rolname = \(literal) and rolcanlogin), 'f')"
        }
        let pid = probes.pg.dataDir + "/postmaster.pid"
        let sql = rows.joined(separator: " union all ")
        return Probe("pgpool.users", "[ -f \(pid) ] && \(probes.pg.tools.psql(sql)) 2>/dev/null || true") { text in
            var found: [String: (StoredPassword, Bool)] = [:]
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard words.count == 3 else { continue }
                found[words[0]] = (StoredPassword.parse(words[1].replacingOccurrences(of: ",", with: " ")), words[2] == "true")
            }
            return found
        }
    }

    public func probe(_ script: inout FactScript) {
        script.add(probes.running)
        script.add(probes.serverRole)
        script.add(state)
    }

    func wrong(_ facts: Facts) -> [String] {
        let found = facts[state]
        return users.compactMap { user in
            guard let entry = found[user.name] else { return nil }
            if entry.password == .absent { return "create \(user.name)" }
            if !entry.password.matches(password: user.password, user: user.name) { return "\(user.name)'s password" }
            if checkers.contains(user.name) && !entry.monitor { return "\(user.name) pg_monitor" }
            return nil
        }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        // Only on the primary, once it answers (the roles replicate to the standbys).
        guard facts[probes.running], facts[probes.serverRole] != "standby" else { return nil }
        if facts[state].isEmpty { return Change(.create, "create roles \(users.map(\.name).joined(separator: ", ")) with their passwords (sensitive)") }
        let wrong = wrong(facts)
        if wrong.isEmpty { return nil }
        return Change(wrong.allSatisfy { $0.hasPrefix("create") } ? .create : .update, "set " + wrong.joined(separator: ", ") + " (sensitive)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        var sql = """
            SET log_statement = 'none';
            SET log_min_duration_statement = -1;
            SET log_min_error_statement = 'panic';
            SET log_duration = off;

            """
        for user in users {
            let secret = ScramVerifier.make(password: user.password) ?? user.password
            sql += "SELECT format('CREATE ROLE %I', \(sqlLiteral(user.name))) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = \(sqlLiteral(user.name)))\\gexec\n"
            sql += "ALTER ROLE \(sqlIdentifier(user.name)) WITH LOGIN PASSWORD \(sqlLiteral(secret));\n"
            if checkers.contains(user.name) { sql += "GRANT pg_monitor TO \(sqlIdentifier(user.name));\n" }
        }
        let command = probes.pg.tools.psqlCommand.appending("-v", "ON_ERROR_STOP=1", "-q", "-f", "-").feeding(Data(sql.utf8))
        _ = try await run(command, on: connection, display: "psql (pgpool users, SQL on stdin)")
    }
}

/// A file pgpool-II reads (pgpool.conf, pool_hba.conf, pool_passwd, pcp.conf, pgpool_node_id):
/// written as a FileStep; pgpool picks it up when the service step restarts or reloads it.
public typealias PgpoolConfigStep = FileStep

/// pgpool-II running with the files as written: started (and enabled at boot) where it does not
/// run; restarted where it runs with files older than its start (Debian starts pgpool2 with its
/// default configuration when the package is installed; a repaired file). One node at a time:
/// the catalog orders the nodes' service steps, so the watchdog keeps a leader and the VIP.
public struct PgpoolServiceStep: Step {
    public let host: String
    public let name = "pgpool-service"
    public var dependsOn: [String] = []
    let pgpool: PgpoolSpec
    let files: [String]
    static let unit = "pgpool2"

    public init(host: String, pgpool: PgpoolSpec, files: [String]) {
        self.host = host
        self.pgpool = pgpool
        self.files = files
    }

    public var summary: String { "start pgpool-II (\(Self.unit)) on port \(pgpool.port), enabled at boot; restart it when it runs with older files" }

    /// "running=yes|no", "enabled=yes|no", "stale=FILE" per file newer than the running pgpool.
    var state: Probe<(running: Bool, enabled: Bool, stale: [String])> {
        let started: Shell = "started=$(( $(date +%s) - $(ps -C pgpool -o etimes= | sort -n | tail -1 | tr -d ' ') ))"
        let checks = files.map { file -> Shell in
            let line: String = "stale=" + file
            return "[ \"$(stat -c %Y \(file) 2>/dev/null || echo 0)\" -ge \"$started\" ] && echo \(line)"
        }
        let enabled: Shell = "systemctl is-enabled \(Self.unit) >/dev/null 2>&1 && echo enabled=yes || echo enabled=no"
        return Probe("pgpool.service", """
            \(enabled)
            if pgrep -x pgpool >/dev/null; then echo running=yes; \(started); \(Shell.join(checks, separator: "; ")); true; else echo running=no; fi
            """) { text in
            let lines = text.split(separator: "\n").map(String.init)
            return (lines.contains("running=yes"), lines.contains("enabled=yes"),
                    lines.filter { $0.hasPrefix("stale=") }.map { String($0.dropFirst("stale=".count)) })
        }
    }

    public func probe(_ script: inout FactScript) { script.add(state) }

    public func decide(_ facts: Facts) throws -> Change? {
        let s = facts[state]
        if !s.running { return Change(.create, "start \(Self.unit)\(s.enabled ? "" : " and enable it at boot")") }
        if !s.stale.isEmpty { return Change(.update, "restart \(Self.unit): it runs with older \(s.stale.map { ($0 as NSString).lastPathComponent }.joined(separator: ", "))") }
        if !s.enabled { return Change(.update, "enable \(Self.unit) at boot") }
        return nil
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        let s = facts[state]
        if !s.enabled { _ = try await run(Command("systemctl", "enable", Self.unit).shell, on: connection) }
        if s.running && s.stale.isEmpty { return }
        // A stop that waits for the old pgpool to be gone (it releases the VIP and its ports).
        // pgpool's fast shutdown (SIGINT) has been seen to hang with children left: after 20 s
        // its processes are killed, as systemd would after its stop timeout (90 s).
        if s.running {
            let stop: Shell = "\(Command("timeout", "20", "systemctl", "stop", Self.unit)) || true"
            let kill: Shell = "if pgrep -x pgpool >/dev/null; then \(Command("systemctl", "kill", "--signal=SIGKILL", Self.unit)) 2>/dev/null; \(Command("pkill", "-KILL", "-x", "pgpool")); fi; true"
            _ = try await run(Shell.join([stop, kill]), on: connection, display: "systemctl stop \(Self.unit) (at most 20 s, then SIGKILL)")
            _ = try await run(Shell.waitUntil("! pgrep -x pgpool >/dev/null", tries: 20, interval: 0.5,
                                              failure: "pgpool did not stop"), on: connection, display: "wait until pgpool stopped")
        }
        _ = try await run(Command("systemctl", "start", Self.unit).shell, on: connection)
        let open: Shell = "exec 3<>/dev/tcp/127.0.0.1/\(String(pgpool.port))"
        _ = try await run(Shell.waitUntil("\(Command("timeout", "1", "bash", "-c", open.text)) 2>/dev/null", tries: 60, interval: 0.5,
                                          failure: "pgpool does not answer on port \(pgpool.port) within 30 s; see its log"),
                          on: connection, display: "wait until pgpool answers on port \(pgpool.port)")
    }
}

/// The end of a pgpool bootstrap: the delegate VIP answers on pgpool's port, and pgpool sees
/// every backend up (pcp_node_info through the PostgreSQL user's ~/.pcppass, as pgpool's own
/// scripts call pcp).
public struct PgpoolVerifyStep: Step {
    public let host: String
    public let name = "pgpool-verify"
    public var dependsOn: [String] = []
    let spec: ClusterSpec
    let pgpool: PgpoolSpec

    public init(host: String, spec: ClusterSpec, pgpool: PgpoolSpec) {
        self.host = host
        self.spec = spec
        self.pgpool = pgpool
    }

    public var summary: String {
        "wait until the delegate VIP \(spec.vips.readWrite.ip) answers on port \(pgpool.port) and pgpool sees all \(spec.nodes.count) backends up"
    }

    func nodeInfo(_ id: Int) -> Command {
        Command(["pcp_node_info", "-w", "-h", "localhost", "-p", String(pgpool.pcpPort), "-U", pgpool.pcpUser, "-n", String(id)],
                user: spec.postgresql.osUser.name)
    }

    var vipOpen: Shell {
        let open: Shell = "exec 3<>/dev/tcp/\(spec.vips.readWrite.ip)/\(String(pgpool.port))"
        return "\(Command("timeout", "1", "bash", "-c", open.text)) 2>/dev/null"
    }

    /// "vip=up|down", then per backend "ID STATUS" (pcp_node_info's third field: 1 waiting, 2 up, 3 down).
    var state: Probe<(vip: Bool, up: Int)> {
        let rows = spec.nodes.indices.map { id -> Shell in "\(nodeInfo(id)) 2>/dev/null | cut -d' ' -f3" }
        return Probe("pgpool.verify", """
            \(vipOpen) && echo vip=up || echo vip=down
            \(Shell.join(rows))
            """) { text in
            let lines = text.split(separator: "\n").map(String.init)
            return (lines.contains("vip=up"), lines.filter { $0 == "2" || $0 == "1" }.count)
        }
    }

    public func probe(_ script: inout FactScript) { script.add(state) }

    public func decide(_ facts: Facts) throws -> Change? {
        let s = facts[state]
        if s.vip && s.up == spec.nodes.count { return nil }
        return Change(.update, "wait for the VIP (\(s.vip ? "answers" : "does not answer")) and the backends (\(s.up) of \(spec.nodes.count) up)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(Shell.waitUntil(vipOpen, tries: 120, interval: 0.5,
                                          failure: "the delegate VIP \(spec.vips.readWrite.ip) does not answer on port \(pgpool.port) within 60 s; see pgpool's log (pcp_watchdog_info shows the leader)"),
                          on: connection, display: "wait until the delegate VIP answers")
        for id in spec.nodes.indices {
            let check: Shell = "\(nodeInfo(id)) 2>/dev/null | cut -d' ' -f3 | grep -qx '[12]'"
            _ = try await run(Shell.waitUntil(check, tries: 60, interval: 0.5,
                                              failure: "pgpool does not see backend \(id) (\(spec.nodes[id].name)) up within 30 s; `pcp_node_info -n \(id)` and pgpool's log say why"),
                              on: connection, display: "wait until pgpool sees backend \(id) up")
        }
    }
}
