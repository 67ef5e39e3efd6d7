import Foundation
import PghaShell
import PghaSpec

/// The probes of PostgreSQL's state that several steps read (one name, one command each: the
/// fact script reads them once per host).
public struct ServerProbes: Sendable {
    public let spec: ClusterSpec
    /// Names what a --rebuild leaves behind (BootstrapContext.runID).
    public let runID: String

    public init(spec: ClusterSpec, runID: String) {
        self.spec = spec
        self.runID = runID
    }

    var pg: ClusterSpec.PostgreSQL { spec.postgresql }
    var tools: PostgresTools { pg.tools }

    /// The data directory: absent, its entry count, and PG_VERSION when it has one.
    public struct DataDirectory: Equatable, Sendable {
        public var exists: Bool
        public var entries: Int
        public var version: String?
        /// Absent or empty: initdb and pg_basebackup may write into it.
        public var isEmpty: Bool { !exists || entries == 0 }
        /// Holds a PostgreSQL cluster (PG_VERSION is there).
        public var isInitialised: Bool { version != nil }
    }

    /// Whether the CIB holds pgha's pgsql resource: from then on Pacemaker runs PostgreSQL.
    public var managed: Probe<Bool> {
        .yesNo("cluster.managed", SharedFacts.cibHas(spec.pacemaker.pgsqlResource), reads: [SharedFacts.cib])
    }

    /// `pg_ctl status`
    public var running: Probe<Bool> {
        .yesNo("pg.running", "\(tools.pgCtl("status")) >/dev/null 2>&1 && echo yes || echo no")
    }

    public var dataDirectory: Probe<DataDirectory> {
        let dir = pg.dataDir
        return Probe("pg.datadir", "if [ -d \(dir) ]; then echo \"entries=$(ls -A \(dir) | wc -l)\"; cat \(dir + "/PG_VERSION") 2>/dev/null; else echo absent; fi") { text in
            let lines = text.split(separator: "\n").map(String.init)
            guard let first = lines.first, first != "absent" else { return DataDirectory(exists: false, entries: 0, version: nil) }
            let entries = Int(first.hasPrefix("entries=") ? String(first.dropFirst(8)).trimmingCharacters(in: .whitespaces) : "") ?? 0
            return DataDirectory(exists: true, entries: entries, version: lines.count >= 2 ? lines[1] : nil)
        }
    }

    /// --rebuild: the old data directory is renamed, never deleted; the name carries this run's
    /// id, so the check after the rebuild (and a re-run plan) sees it was done.
    public var aside: String { "\(pg.dataDir).pgha-old-\(runID)" }
    public var rebuilt: Probe<Bool> { .yesNo("pg.rebuilt", "[ -e \(aside) ] && echo yes || echo no") }

    /// Renames the data directory aside and makes an empty one in its place (through
    /// descriptors: its parent belongs to the PostgreSQL user).
    public var moveAside: Command {
        SafePaths.moveAside(pg.dataDir, to: aside, owner: pg.osUser.name, group: pg.osUser.group)
    }

    /// One value of SharedFacts.pg (`key`: a word of pgha's).
    public func serverValue(_ name: String, _ key: String) -> Probe<String> {
        Probe(name, SharedFacts.pgValue(key), reads: [SharedFacts.pg(spec)])
    }
}

/// initdb of the first primary (seed 000 §5.3): only into an absent or empty directory.
public struct InitdbStep: Step {
    public let host: String
    public let name = "initdb"
    public var dependsOn: [String] = []
    let probes: ServerProbes
    let rebuild: Bool

    public init(host: String, probes: ServerProbes, rebuild: Bool) {
        self.host = host
        self.probes = probes
        self.rebuild = rebuild
    }

    var pg: ClusterSpec.PostgreSQL { probes.pg }

    public var summary: String { "initdb \(pg.dataDir) as \(pg.osUser.name) (only if the directory is absent or empty)" }
    public var details: [String] {
        ["options: \(pg.initdbOptions.isEmpty ? "(none)" : pg.initdbOptions.joined(separator: " "))",
         "a data directory that holds data is never initialised over"]
    }

    public func probe(_ script: inout FactScript) {
        script.add(probes.dataDirectory)
        if rebuild { script.add(probes.rebuilt) }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        let dir = facts[probes.dataDirectory]
        if dir.isEmpty { return Change(.create, "initdb \(pg.dataDir) \(pg.initdbOptions.map(quote).joined(separator: " "))") }
        if dir.isInitialised { return nil }
        if rebuild && !facts[probes.rebuilt] {
            return Change(.destructive, "move \(pg.dataDir) (not empty, no PostgreSQL cluster) aside to \(probes.aside), then initdb (--rebuild \(host))")
        }
        throw fail("\(pg.dataDir) is not empty and holds no PostgreSQL cluster; pgha never initialises over existing files. Empty it yourself, or name this node with --rebuild \(host) (the old directory is kept, renamed)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        if rebuild && !facts[probes.dataDirectory].isEmpty {
            _ = try await run(probes.moveAside, on: connection, display: "move \(pg.dataDir) aside to \(probes.aside)")
        }
        _ = try await run("\(pg.tools.tool("initdb", ["-D", pg.dataDir] + pg.initdbOptions)) >/dev/null", on: connection)
    }
}

/// pg_basebackup of a standby from the first primary, or with --rebuild from whoever is primary
/// now, into an absent or empty data directory.
public struct BasebackupStep: Step {
    public let host: String
    public let name = "basebackup"
    public var dependsOn: [String] = []
    let probes: ServerProbes
    let rebuild: Bool

    public init(host: String, probes: ServerProbes, rebuild: Bool) {
        self.host = host
        self.probes = probes
        self.rebuild = rebuild
    }

    var spec: ClusterSpec { probes.spec }
    var pg: ClusterSpec.PostgreSQL { probes.pg }
    var primaryAddress: String { spec.node(named: spec.primary)?.address ?? spec.primary }
    var rwVIP: String { spec.vips.readWrite.ip }

    /// A rebuild clones from whoever is primary now: the rw VIP, when it answers.
    var rwVIPAnswers: Probe<Bool> {
        Probe("pg.rw-vip", "\(pg.tools.tool("pg_isready", ["-q", "-h", rwVIP, "-p", String(pg.port), "-t", "2"], asUser: false)) && echo up || echo down") { $0 == "up" }
    }

    public var summary: String {
        "pg_basebackup from \(spec.primary) (\(primaryAddress)) into \(pg.dataDir) as \(spec.replication.user), without -R"
    }
    public var details: [String] {
        ["only into an absent or empty data directory; a non-empty one stops the step and names --rebuild \(host)"]
    }

    public func probe(_ script: inout FactScript) {
        script.add(probes.managed)
        script.add(probes.dataDirectory)
        if rebuild {
            script.add(probes.rebuilt)
            script.add(rwVIPAnswers)
        }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        let dir = facts[probes.dataDirectory]
        if dir.isEmpty { return Change(.create, "pg_basebackup from \(spec.primary) into \(pg.dataDir)") }
        if rebuild && !facts[probes.rebuilt] {
            if facts[probes.managed] {
                throw fail("\(host) is running in the cluster; take it out first (pcs cluster stop \(host)), then re-run with --rebuild \(host)")
            }
            let from = facts[rwVIPAnswers] ? "the current primary (rw VIP \(rwVIP))" : spec.primary
            return Change(.destructive, "move \(pg.dataDir) aside to \(probes.aside), then pg_basebackup from \(from) (--rebuild \(host))")
        }
        if dir.isInitialised { return nil }
        throw fail("\(pg.dataDir) is not empty; pgha never clones over existing files. Check it, then name this node with --rebuild \(host) to replace it (the old directory is kept, renamed)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        var from = primaryAddress
        if rebuild && !facts[probes.dataDirectory].isEmpty {
            if facts[rwVIPAnswers] { from = rwVIP }
            _ = try await run("\(pg.tools.pgCtl("stop", ["-m", "fast", "-w", "-t", "60"])) >/dev/null 2>&1; true", on: connection)
            // The agent's lock says "my data may be newer than the standbys'": not true of a fresh clone.
            _ = try await run(probes.moveAside, on: connection, display: "move \(pg.dataDir) aside to \(probes.aside)")
            if let tmp = spec.pacemaker.tmpdir { _ = try await run(SafePaths.remove(tmp + "/PGSQL.lock"), on: connection, display: "rm \(tmp)/PGSQL.lock") }
        }
        _ = try await run(pg.tools.tool("pg_basebackup", ["-h", from, "-p", String(pg.port), "-U", spec.replication.user,
                                                         "-D", pg.dataDir, "-X", "stream", "-c", "fast", "-w"]), on: connection)
    }
}

/// Starts PostgreSQL with pg_ctl until Pacemaker takes over: the first primary as it is, a
/// standby with standby.signal and primary_conninfo, waiting until it streams.
public struct StartServerStep: Step {
    public enum Role: Sendable { case primary, standby }
    public let host: String
    public let role: Role
    public var dependsOn: [String] = []
    let probes: ServerProbes

    public init(host: String, role: Role, probes: ServerProbes) {
        self.host = host
        self.role = role
        self.probes = probes
    }

    public var name: String { role == .primary ? "start-primary" : "verify-streaming" }
    var spec: ClusterSpec { probes.spec }
    var pg: ClusterSpec.PostgreSQL { probes.pg }
    var streaming: Probe<String> { probes.serverValue("pg.streaming", "wal_receiver") }

    public var summary: String {
        role == .primary ? "start PostgreSQL \(pg.version) on port \(pg.port) with pg_ctl (handed to Pacemaker later)"
            : "start as a standby and wait until its WAL receiver streams from \(spec.primary)"
    }

    public func probe(_ script: inout FactScript) {
        script.add(probes.managed)
        script.add(probes.running)
        script.add(streaming)
    }

    public func decide(_ facts: Facts) throws -> Change? {
        if facts[probes.managed] { return nil }  // Pacemaker runs PostgreSQL now
        switch role {
        case .standby:
            return facts[streaming] == "streaming" ? nil : Change(.update, "start as a standby of \(spec.primary) and wait until it streams")
        case .primary:
            return facts[probes.running] ? nil : Change(.update, "start PostgreSQL (pg_ctl, until Pacemaker takes over)")
        }
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        let log = "\(pg.osUser.home)/pgha-bootstrap.log"
        let tools = pg.tools
        guard role == .standby else {
            _ = try await run(tools.pgCtl("start", ["-w", "-t", "60", "-l", log]), on: connection)
            return
        }
        if !facts[probes.running] {
            let primary = spec.node(named: spec.primary)?.address ?? spec.primary
            let conninfo = "host=\(primary) port=\(pg.port) user=\(spec.replication.user) application_name=\(host)"
            let signal = pg.dataDir + "/standby.signal"
            // pg_ctl hands -o to postgres through /bin/sh: the conninfo's values are validated
            // words (an IPv4 address, a role name, a node name).
            _ = try await run(SafePaths.touch(signal, mode: 0o600, owner: pg.osUser.name, group: pg.osUser.group), on: connection,
                              display: "touch \(signal)")
            _ = try await run(tools.pgCtl("start", ["-w", "-t", "60", "-l", log, "-o", "-c primary_conninfo='\(conninfo)'"]), on: connection)
        }
        let status = tools.psqlCommand.appending("-c", "select status from pg_stat_wal_receiver")
        _ = try await run(Shell.waitUntil("[ \"$(\(status) 2>/dev/null)\" = streaming ]", tries: 60, interval: 0.5,
                                          failure: "the standby did not start streaming within 30 s; see \(log)"),
                          on: connection, display: "wait for streaming")
    }
}

/// Stops the pg_ctl-started server once the bootstrap hands PostgreSQL to Pacemaker.
public struct StopServerStep: Step {
    public let host: String
    public let name: String
    public let summary: String
    public var dependsOn: [String] = []
    let probes: ServerProbes

    public init(host: String, role: StartServerStep.Role, probes: ServerProbes) {
        self.host = host
        self.probes = probes
        self.name = role == .primary ? "stop-primary" : "stop-standby"
        self.summary = role == .primary ? "stop PostgreSQL on the primary after every standby streamed"
            : "stop PostgreSQL: from here on Pacemaker runs it"
    }

    public func probe(_ script: inout FactScript) {
        script.add(probes.managed)
        script.add(probes.running)
    }

    public func decide(_ facts: Facts) throws -> Change? {
        facts[probes.managed] || !facts[probes.running] ? nil : Change(.update, "stop PostgreSQL (Pacemaker takes over)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(probes.pg.tools.pgCtl("stop", ["-m", "fast", "-w", "-t", "60"]), on: connection)
    }
}

/// The replication role (seed 000 §5.3): REPLICATION LOGIN with its password, sent as SQL on
/// stdin (never in argv).
public struct ReplicationUserStep: Step {
    public let host: String
    public let name = "replication-user"
    public var dependsOn: [String] = []
    let probes: ServerProbes
    let password: String

    public init(host: String, probes: ServerProbes, password: String) {
        self.host = host
        self.probes = probes
        self.password = password
    }

    var role: String { probes.spec.replication.user }
    /// t: it can replicate and log in; f: it exists without; absent.
    var state: Probe<String> { probes.serverValue("pg.replication-role", "replication_role") }

    public var summary: String {
        "create role \(role) with REPLICATION LOGIN; password from \(probes.spec.replication.password) (sensitive, sent on stdin)"
    }

    public func probe(_ script: inout FactScript) {
        script.add(probes.managed)
        script.add(state)
    }

    public func decide(_ facts: Facts) throws -> Change? {
        if facts[probes.managed] { return nil }
        switch facts[state] {
        case "t": return nil
        case "f": return Change(.update, "give role \(role) REPLICATION LOGIN and its password")
        default: return Change(.create, "create role \(role) REPLICATION LOGIN with its password (sensitive)")
        }
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        // The server sees a SCRAM verifier computed here, not the password (ScramVerifier); and
        // whatever it is sent, this session logs no statement text (the seed profile logs every
        // statement: log_min_duration_statement = 0), so nothing of the secret lands in the
        // server log that pg_basebackup copies to every standby.
        let secret = ScramVerifier.make(password: password) ?? password
        let sql = """
            SET log_statement = 'none';
            SET log_min_duration_statement = -1;
            SET log_min_error_statement = 'panic';
            SET log_duration = off;
            SELECT format('CREATE ROLE %I', \(sqlLiteral(role))) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = \(sqlLiteral(role)))\\gexec
            ALTER ROLE \(sqlIdentifier(role)) WITH REPLICATION LOGIN PASSWORD \(sqlLiteral(secret));

            """
        _ = try await run(probes.pg.tools.psqlCommand.appending("-v", "ON_ERROR_STOP=1", "-q", "-f", "-").feeding(Data(sql.utf8)), on: connection,
                          display: "psql (create replication role, SQL on stdin)")
    }
}
