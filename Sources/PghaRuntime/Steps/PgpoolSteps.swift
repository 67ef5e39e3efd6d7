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
        "roles \((probes.spec.pgpool?.users.map(\.name) ?? []).joined(separator: ", ")) LOGIN with their passwords from pgpool.users (sensitive, on stdin); pg_monitor for \(checkers.sorted().joined(separator: ", ")); \(PgpoolSecrets.recoveryUser) SUPERUSER for online recovery (password derived from pgpool.key)"
    }

    /// Per user: "NAME STORED-PASSWORD MONITOR" (StoredPassword's form; monitor t/f), or nothing
    /// when the server does not answer.
    var state: Probe<[String: (password: StoredPassword, monitor: Bool)]> {
        let rows = users.map { user -> String in
            let literal = sqlLiteral(user.name)
            return "select \(literal) || ' ' || replace(\(StoredPassword.sql(role: user.name)), ' ', ',') || ' ' || coalesce((select (pg_has_role(oid, 'pg_monitor', 'member') and (rolsuper or \(sqlLiteral(user.name)) <> \(sqlLiteral(PgpoolSecrets.recoveryUser))))::text from pg_roles where rolname = \(literal) and rolcanlogin), 'f')"
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
        if let probe = probes.pgpoolPrimary { script.add(probe) }
    }

    func wrong(_ facts: Facts) -> [String] {
        let found = facts[state]
        return users.compactMap { user in
            guard let entry = found[user.name] else { return nil }
            if entry.password == .absent { return "create \(user.name)" }
            if !entry.password.matches(password: user.password, user: user.name) { return "\(user.name)'s password" }
            if (checkers.contains(user.name) || user.name == PgpoolSecrets.recoveryUser) && !entry.monitor {
                return user.name == PgpoolSecrets.recoveryUser ? "\(user.name) SUPERUSER" : "\(user.name) pg_monitor"
            }
            return nil
        }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        // Only on the primary, once it answers (the roles replicate to the standbys).
        guard facts[probes.running], facts[probes.serverRole] != "standby" else { return nil }
        if let current = probes.pgpoolPrimaryName(facts), current != host { return nil }
        if facts[state].isEmpty { return Change(.create, "create roles \(users.map(\.name).joined(separator: ", ")) with their passwords (sensitive)") }
        let wrong = wrong(facts)
        if wrong.isEmpty { return nil }
        // pgpool reads the check user's password from pool_passwd, reloaded only after this step:
        // between the two its health checks fail and it detaches every backend (seen on the test
        // bed: no primary left, writes refused). Not done on a running pgpool.
        let rotated = checkers.filter { wrong.contains("\($0)'s password") }.sorted()
        if !rotated.isEmpty && probes.pgpoolPrimaryName(facts) != nil {
            throw StepFailure(host: host, step: name, message: "the password of pgpool's check user \(rotated.joined(separator: ", ")) differs from the spec's; changing it while pgpool-II runs makes its health checks fail until pool_passwd is reloaded, and pgpool detaches every backend. Either keep the password the cluster has, or stop pgpool2 on every node (systemctl stop pgpool2: clients lose the delegate VIP meanwhile) and run pgha apply: it sets the password, writes pool_passwd and starts pgpool again")
        }
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
            // Online recovery's role runs pgpool_recovery(), which only a superuser may.
            let superuser = user.name == PgpoolSecrets.recoveryUser ? " SUPERUSER" : ""
            sql += "ALTER ROLE \(sqlIdentifier(user.name)) WITH LOGIN\(superuser) PASSWORD \(sqlLiteral(secret));\n"
            if checkers.contains(user.name) || !superuser.isEmpty { sql += "GRANT pg_monitor TO \(sqlIdentifier(user.name));\n" }
        }
        let command = probes.pg.tools.psqlCommand.appending("-v", "ON_ERROR_STOP=1", "-q", "-f", "-").feeding(Data(sql.utf8))
        _ = try await run(command, on: connection, display: "psql (pgpool users, SQL on stdin)")
    }
}

/// A file pgpool-II reads (pgpool.conf, pool_hba.conf, pool_passwd, pcp.conf, pgpool_node_id):
/// written as a FileStep; pgpool picks it up when the service step restarts or reloads it.
public typealias PgpoolConfigStep = FileStep

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
        PgpoolProbes(spec: spec, pgpool: pgpool).pcp("pcp_node_info", ["-n", String(id)])
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

/// pgpool-II's online recovery needs its extension in template1 of the primary (pgpool_recovery,
/// pgpool_remote_start, pgpool_pgctl: postgresql-N-pgpool2 installs them); it replicates to the
/// standbys, so whichever node is promoted has it too.
public struct PgpoolRecoveryExtensionStep: Step {
    public let host: String
    public let name = "pgpool-recovery-extension"
    public var dependsOn: [String] = []
    let probes: ServerProbes

    public init(host: String, probes: ServerProbes) {
        self.host = host
        self.probes = probes
    }

    public var summary: String { "CREATE EXTENSION pgpool_recovery in template1 (online recovery)" }

    var installed: Probe<String> {
        let pid = probes.pg.dataDir + "/postmaster.pid"
        return Probe("pgpool.recovery-extension",
                     "[ -f \(pid) ] && \(probes.pg.tools.psql("select 'installed' from pg_extension where extname = 'pgpool_recovery'", options: ["-d", "template1"])) 2>/dev/null || true")
    }

    public func probe(_ script: inout FactScript) {
        script.add(probes.running)
        script.add(probes.serverRole)
        script.add(installed)
        if let probe = probes.pgpoolPrimary { script.add(probe) }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        guard facts[probes.running], facts[probes.serverRole] == "primary", facts[installed] != "installed" else { return nil }
        if let current = probes.pgpoolPrimaryName(facts), current != host { return nil }
        return Change(.create, "create extension pgpool_recovery in template1")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(probes.pg.tools.psqlCommand.appending("-d", "template1", "-v", "ON_ERROR_STOP=1", "-c", "CREATE EXTENSION IF NOT EXISTS pgpool_recovery"),
                          on: connection)
    }
}

/// A node pgpool-II holds `down` while another is the primary (after a failover, a lost node) is
/// brought back: when its PostgreSQL streams from the primary already, `pcp_attach_node`; when it
/// was a standby and is stopped (crashed, rebooted), it is started as a standby of the primary and
/// attached once it streams; else pgpool's online recovery, `pcp_recovery_node` —
/// recovery_1st_stage on the primary moves this node's data directory aside (kept, never
/// deleted) and clones it again, pgpool_remote_start starts it, pgpool attaches it (destructive:
/// `!` in the plan, confirmed with the apply). An old primary is always recovered: its WAL may
/// have gone past the point where the new primary's timeline forked.
public struct PgpoolRejoinStep: Step {
    public let host: String
    public let name = "pgpool-rejoin"
    public var dependsOn: [String] = []
    let probes: ServerProbes
    let pgpool: PgpoolSpec
    /// templates/pgpool-standby-conf.sh.stencil on the host: writes primary_conninfo.
    let standbyConf: String

    public init(host: String, probes: ServerProbes, pgpool: PgpoolSpec, standbyConf: String) {
        self.host = host
        self.probes = probes
        self.pgpool = pgpool
        self.standbyConf = standbyConf
    }

    var spec: ClusterSpec { probes.spec }
    var id: Int { spec.nodes.firstIndex { $0.name == host } ?? 0 }
    var address: String { spec.node(named: host)?.address ?? host }

    public var summary: String {
        "a node pgpool-II holds down is attached again (it streams), started as a standby and attached (a stopped standby), or recovered online (pcp_recovery_node)"
    }

    var view: PgpoolProbes { PgpoolProbes(spec: spec, pgpool: pgpool) }
    var streaming: Probe<String> { probes.walReceiver }
    var control: Probe<ControlData?> { NodeProbes(spec: spec).control }

    public func probe(_ script: inout FactScript) {
        script.add(view.backends)
        script.add(probes.running)
        script.add(probes.serverRole)
        script.add(streaming)
        script.add(control)
    }

    public enum Action: Equatable { case attach, start(from: String, address: String), recover(from: String) }

    /// States pg_controldata gives a standby's data directory (stopped cleanly or not).
    static let standbyStates: Set<String> = ["in archive recovery", "shut down in recovery"]

    func action(_ facts: Facts) -> Action? {
        let all = facts[view.backends]
        guard let mine = all.first(where: { $0.address == address }), mine.status == "down",
              let primary = all.first(where: { $0.role == "primary" && $0.isUp }), primary.address != address else { return nil }
        let from = spec.nodes.first { $0.address == primary.address }?.name ?? primary.address
        if facts[probes.running] {
            return facts[probes.serverRole] == "standby" && facts[streaming] == "streaming" ? .attach : .recover(from: from)
        }
        if let state = facts[control]?.state, Self.standbyStates.contains(state), spec.nodes.contains(where: { $0.address == primary.address }) {
            return .start(from: from, address: primary.address)
        }
        return .recover(from: from)
    }

    public func decide(_ facts: Facts) throws -> Change? {
        switch action(facts) {
        case nil: return nil
        case .attach?: return Change(.update, "attach it to pgpool-II again (pcp_attach_node -n \(id)): it streams from the primary")
        case .start(let from, _)?:
            return Change(.update, "start it as a standby of \(from) (it was a standby and is stopped), wait until it streams, attach it (pcp_attach_node -n \(id))")
        case .recover(let from)?:
            return Change(.destructive, "pgpool-II holds it down and \(from) is the primary: online recovery (pcp_recovery_node -n \(id)) moves \(spec.postgresql.dataDir) aside (kept as \(spec.postgresql.dataDir).pgpool-<time>), clones it again from \(from), starts it and attaches it")
        }
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        switch action(facts) {
        case nil: return
        case .attach?: _ = try await run(view.pcp("pcp_attach_node", ["-n", String(id)]), on: connection)
        case .start(let from, let primary)?:
            let pg = spec.postgresql
            let log = "\(pg.osUser.home)/pgha-bootstrap.log"
            let conninfo = "host=\(primary) port=\(pg.port) user=\(spec.replication.user) application_name=\(host)"
            try await startStandby(pg, standbyConf: standbyConf, conninfo: conninfo, log: log,
                                   notStreaming: "it does not stream from \(from) within 30 s (see \(log)); the next pgha plan offers online recovery",
                                   display: "wait until it streams from \(from)", on: connection)
            _ = try await run(view.pcp("pcp_attach_node", ["-n", String(id)]), on: connection)
        case .recover?:
            // pcp's own timeout for a recovery is recovery_timeout (90 s by default, pgpool.conf).
            _ = try await run(view.pcp("pcp_recovery_node", ["-n", String(id)]), on: connection, timeLimit: .seconds(900))
        }
    }
}
