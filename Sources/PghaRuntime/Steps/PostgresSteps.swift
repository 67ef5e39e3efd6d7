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

    /// The data directory: absent, its entry count, PG_VERSION when it has one, and whether
    /// pg_basebackup finished writing it (backup_manifest, PostgreSQL 13+: written last).
    public struct DataDirectory: Equatable, Sendable {
        public var exists: Bool
        public var entries: Int
        public var version: String?
        public var hasManifest = false
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
        return Probe("pg.datadir", "if [ -d \(dir) ]; then echo \"entries=$(ls -A \(dir) | wc -l)\"; cat \(dir + "/PG_VERSION") 2>/dev/null; [ -f \(dir + "/backup_manifest") ] && echo manifest=yes; else echo absent; fi") { text in
            let lines = text.split(separator: "\n").map(String.init)
            guard let first = lines.first, first != "absent" else { return DataDirectory(exists: false, entries: 0, version: nil) }
            let entries = Int(first.hasPrefix("entries=") ? String(first.dropFirst(8)).trimmingCharacters(in: .whitespaces) : "") ?? 0
            let version = lines.dropFirst().first { $0.first?.isNumber == true }
            return DataDirectory(exists: true, entries: entries, version: version, hasManifest: lines.contains("manifest=yes"))
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

    /// Where pgha notes a clone it started (root's): present after a clone that did not finish.
    public static let cloneNote = "/var/lib/pgha/basebackup.pending"
    /// The run id of a clone pgha started here and that did not finish, or nil.
    public var clonePending: Probe<String?> {
        Probe("pg.clone-pending", "cat \(Self.cloneNote) 2>/dev/null; true") { text in
            let run = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return run.isEmpty ? nil : run
        }
    }

    /// The data directory's system identifier (pg_controldata, as root: it only reads pg_control).
    public var systemIdentifier: Probe<String?> {
        let control = pg.dataDir + "/global/pg_control"
        return Probe("pg.system-identifier", "[ -f \(control) ] && \(tools.tool("pg_controldata", ["-D", pg.dataDir], asUser: false)) | sed -n 's/^Database system identifier: *//p'") { text in
            text.isEmpty ? nil : text
        }
    }

    /// The system identifier of the primary behind the rw VIP (IDENTIFY_SYSTEM over a
    /// replication connection, as the PostgreSQL user with its .pgpass), or nil when it does not answer.
    public var primarySystemIdentifier: Probe<String?> {
        let conninfo = "host=\(spec.vips.readWrite.ip) port=\(pg.port) user=\(spec.replication.user) dbname=replication replication=true connect_timeout=2"
        return Probe("pg.primary-system-identifier", "\(SharedFacts.rwVIPUp) && \(tools.tool("psql", ["-X", "-At", "-d", conninfo, "-c", "IDENTIFY_SYSTEM"])) 2>/dev/null | cut -d'|' -f1",
                     reads: [SharedFacts.rwVIP(spec)]) { text in
            text.isEmpty ? nil : text
        }
    }

    /// Whether a server answers behind the rw VIP (pg_isready: no role or password needed).
    /// In a running cluster a node clones and streams from whoever is primary now, there.
    public var rwVIPAnswers: Probe<Bool> {
        Probe("pg.rw-vip", "\(SharedFacts.rwVIPUp) && \(tools.tool("pg_isready", ["-q", "-h", spec.vips.readWrite.ip, "-p", String(pg.port), "-t", "2"], asUser: false)) && echo up || echo down",
              reads: [SharedFacts.rwVIP(spec)]) { $0 == "up" }
    }

    /// The address a standby clones and streams from: the rw VIP when a server answers there
    /// (a running cluster, its primary wherever it is now), else the spec's first primary.
    public func source(_ facts: Facts) -> (address: String, label: String) {
        if facts[rwVIPAnswers] { return (spec.vips.readWrite.ip, "the current primary (rw VIP \(spec.vips.readWrite.ip))") }
        let primary = spec.node(named: spec.primary)?.address ?? spec.primary
        return (primary, "\(spec.primary) (\(primary))")
    }

    /// Topology pgpool: the backend pgpool-II holds for the primary now (its address), read from
    /// this node's pgpool (PgpoolProbes.backends: the same read as the rejoin step's, made once
    /// per host); empty when pgpool does not answer (a bootstrap).
    public var pgpoolPrimary: Probe<String>? {
        guard let pgpool = spec.pgpool else { return nil }
        return PgpoolProbes(spec: spec, pgpool: pgpool).backends.map { backends in
            backends.first { $0.role == "primary" && $0.status != "down" }?.address ?? ""
        }
    }

    /// The node pgpool-II holds for the primary now, when it says.
    public func pgpoolPrimaryName(_ facts: Facts) -> String? {
        guard let probe = pgpoolPrimary, facts.has(probe) else { return nil }
        let address = facts[probe]
        guard !address.isEmpty else { return nil }
        return spec.nodes.first { $0.address == address }?.name ?? address
    }

    /// What the running server is: `primary` or `standby` (empty when it does not answer).
    public var serverRole: Probe<String> { serverValue("pg.role", "role") }

    /// pg_stat_wal_receiver's status ("streaming" on a standby that streams).
    public var walReceiver: Probe<String> { serverValue("pg.streaming", "wal_receiver") }

    /// The replication role's stored password, as StoredPassword (no verifier travels).
    public var storedPassword: Probe<StoredPassword> {
        serverValue("pg.replication-password", "replication_password").map { StoredPassword.parse($0) }
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
        script.add(probes.managed)
        script.add(probes.dataDirectory)
        if rebuild { script.add(probes.rebuilt) }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        // In a running cluster this node's data is the rejoin step's (it clones, never initdb).
        if facts[probes.managed] { return nil }
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
        _ = try await run("\(pg.tools.tool("initdb", ["-D", pg.dataDir] + pg.initdbOptions)) >/dev/null", on: connection, timeLimit: .seconds(3600))
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

    public var summary: String {
        "pg_basebackup from \(spec.primary) (\(primaryAddress)) into \(pg.dataDir) as \(spec.replication.user), without -R"
    }
    public var details: [String] {
        ["only into an absent or empty data directory; a non-empty one stops the step and names --rebuild \(host)",
         "when a server answers on the rw VIP \(rwVIP) (a running cluster: a node added, a rebuild) from the primary there"]
    }

    public func probe(_ script: inout FactScript) {
        script.add(probes.managed)
        script.add(probes.dataDirectory)
        script.add(probes.clonePending)
        script.add(probes.systemIdentifier)
        script.add(probes.primarySystemIdentifier)
        script.add(probes.rwVIPAnswers)
        if rebuild { script.add(probes.rebuilt) }
    }

    /// pg_basebackup writes backup_manifest last (PostgreSQL 13+); older versions have none.
    var hasManifests: Bool { pg.version >= 13 }
    /// A clone is bounded by its size, not by pgha's usual 600 s per command.
    static let timeLimit: Duration = .seconds(12 * 3600)

    public func decide(_ facts: Facts) throws -> Change? {
        // In a running cluster this node's data is the rejoin step's: it clones from whoever is
        // primary now, rebuilds (--rebuild) and resumes a clone cut short.
        if facts[probes.managed] { return nil }
        let dir = facts[probes.dataDirectory]
        let from = probes.source(facts).label
        if dir.isEmpty { return Change(.create, "pg_basebackup from \(from) into \(pg.dataDir)") }
        if rebuild && !facts[probes.rebuilt] {
            return Change(.destructive, "move \(pg.dataDir) aside to \(probes.aside), then pg_basebackup from \(from) (--rebuild \(host))")
        }
        if let run = facts[probes.clonePending] {
            // pgha's own clone, cut short (a killed apply, a lost connection): kept, and made again.
            return Change(.destructive, "the clone pgha started in run \(run) did not finish: move the partial copy aside to \(probes.aside), then pg_basebackup from \(from) again")
        }
        if dir.isInitialised && (dir.hasManifest || !hasManifests) {
            if let mine = facts[probes.systemIdentifier], let primary = facts[probes.primarySystemIdentifier], mine != primary {
                throw fail("\(pg.dataDir) holds another cluster's data (system identifier \(mine); the primary's is \(primary)); pgha never starts it as a standby. Check it, then name this node with --rebuild \(host) (the old directory is kept, renamed)")
            }
            return nil
        }
        if dir.isInitialised {
            throw fail("\(pg.dataDir) holds a PostgreSQL cluster that is not a finished clone (no backup_manifest: a pg_basebackup cut short, or another cluster's directory); pgha never starts it as a standby. Check it, then name this node with --rebuild \(host) to clone it again (the old directory is kept, renamed)")
        }
        throw fail("\(pg.dataDir) is not empty; pgha never clones over existing files. Check it, then name this node with --rebuild \(host) to replace it (the old directory is kept, renamed)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        let from = probes.source(facts).address
        let partial = facts[probes.clonePending] != nil
        if (rebuild || partial) && !facts[probes.dataDirectory].isEmpty {
            _ = try await run("\(pg.tools.pgCtl("stop", ["-m", "fast", "-w", "-t", "60"])) >/dev/null 2>&1; true", on: connection)
            _ = try await run(probes.moveAside, on: connection, display: "move \(pg.dataDir) aside to \(probes.aside)")
            if let tmp = spec.pacemaker.tmpdir { _ = try await run(SafePaths.remove(tmp + "/PGSQL.lock"), on: connection, display: "rm \(tmp)/PGSQL.lock") }
        }
        try await notedClone(from: from, on: connection)
    }

    /// The clone with its note: "a clone of this run is under way" until pg_basebackup exits 0
    /// (a later plan moves a partial copy aside and clones again). The rejoin step clones so too.
    func notedClone(from: String, on connection: HostConnection) async throws {
        let note = ServerProbes.cloneNote
        _ = try await run(SafePaths.directory((note as NSString).deletingLastPathComponent, mode: 0o700, owner: "root", group: "root"), on: connection,
                          display: "mkdir /var/lib/pgha")
        _ = try await run(SafePaths.write(note, Data((probes.runID + "\n").utf8), mode: 0o600, owner: "root", group: "root"), on: connection,
                          display: "note the clone in \(note)")
        try await clone(from: from, on: connection)
        _ = try await run(SafePaths.remove(note), on: connection, display: "rm \(note)")
    }

    /// What root keeps of a running clone: its log (pg_basebackup's progress) and exit status.
    static let cloneDirectory = "/var/lib/pgha/clone"
    /// A clone that copies nothing for this long is stopped.
    static let stall: Duration = .seconds(600)

    /// pg_basebackup detached from the connection (its own session, under `timeout` for the
    /// 12 h limit, its process group recorded with the run's: RunCommands), polled every 0.25 s for 5 s, then every 2 s:
    /// progress reported as it goes (kB copied of total), stopped when it copies nothing for
    /// 10 minutes. A clone is bounded by its progress, not by pgha's 600 s per command.
    func clone(from: String, on connection: HostConnection) async throws {
        let dir = Self.cloneDirectory
        let log = dir + "/log", rc = dir + "/rc"
        let backup = pg.tools.tool("pg_basebackup", ["-h", from, "-p", String(pg.port), "-U", spec.replication.user,
                                                    "-D", pg.dataDir, "-X", "stream", "-c", "fast", "-w", "-P"])
        // The job's own script: built with the one quoting function, run by sh -c as one word.
        let job: Shell = "\(backup) 2> \(log); echo $? > \(rc)"
        let seconds = String(Int(Self.timeLimit.components.seconds))
        _ = try await run(SafePaths.directory(dir, mode: 0o700, owner: "root", group: "root"), on: connection, display: "mkdir \(dir)")
        let launch: Shell = "rm -f \(log) \(rc); setsid \(Command("timeout", "-s", "KILL", seconds, "sh", "-c", job.text)) < /dev/null > /dev/null 2>&1 & p=$!; { mkdir -p -m 700 /run/pgha && echo $p >> \(RunCommands.file(probes.runID)); } 2>/dev/null; echo $p"
        let pid = try await run(launch, on: connection, display: "pg_basebackup from \(from) (detached; progress in \(log))").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard Int(pid) != nil else { throw fail("pg_basebackup did not start: \(pid)") }
        let poll: Shell = "if [ -f \(rc) ]; then echo \"rc=$(cat \(rc))\"; elif kill -0 \(pid) 2>/dev/null; then echo \"running $(tr '\\r' '\\n' < \(log) 2>/dev/null | grep -E '^ *[0-9]+/[0-9]+ kB' | tail -1)\"; else echo vanished; fi"
        var copied = -1, lastMove = ContinuousClock.now, polls = 0
        while true {
            let state = try await run(poll, on: connection, display: "watch the clone").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            if state == "rc=0" { return }
            if state.hasPrefix("rc=") || state == "vanished" {
                let tail = (try? await connection.run(Command("tail", "-n", "5", log)).stdout) ?? ""
                let how = state == "vanished" ? "stopped without an exit status (killed?)" : "failed (exit \(state.dropFirst(3)))"
                throw fail("pg_basebackup from \(from) \(how); the partial copy is moved aside on the next apply. It said: \(tail.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            // "running 12345/67890 kB (18%), 0/1 tablespace"
            let words = state.dropFirst("running".count).trimmingCharacters(in: .whitespaces)
            let numbers = words.split(separator: " ").first?.split(separator: "/").compactMap { Int($0) } ?? []
            if numbers.count == 2 {
                if numbers[0] != copied { copied = numbers[0]; lastMove = .now }
                StepProgress.report?("copied \(numbers[0] / 1024) of \(numbers[1] / 1024) MB (\(numbers[1] > 0 ? numbers[0] * 100 / numbers[1] : 0)%)")
            }
            if ContinuousClock.now - lastMove > Self.stall {
                _ = try? await connection.run("kill -TERM -- -\(pid) 2>/dev/null", stdin: nil)
                throw fail("pg_basebackup from \(from) copied nothing for \(Int(Self.stall.components.seconds / 60)) minutes and was stopped; the partial copy is moved aside on the next apply")
            }
            // A small database is copied in a second: look often at first.
            polls += 1
            try await Task.sleep(for: polls < 20 ? .milliseconds(250) : .seconds(2))
        }
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
    /// Topology pgpool: the script that writes a standby's primary_conninfo into a file of its
    /// own (templates/pgpool-standby-conf.sh.stencil), so that it survives restarts; nil: the
    /// conninfo is given to this start only (Pacemaker's agent writes its own when it takes over).
    let standbyConf: String?

    public init(host: String, role: Role, probes: ServerProbes, standbyConf: String? = nil) {
        self.host = host
        self.role = role
        self.probes = probes
        self.standbyConf = standbyConf
    }

    public var name: String { role == .primary ? "start-primary" : "verify-streaming" }
    var spec: ClusterSpec { probes.spec }
    var pg: ClusterSpec.PostgreSQL { probes.pg }
    var streaming: Probe<String> { probes.walReceiver }

    public var summary: String {
        role == .primary ? "start PostgreSQL \(pg.version) on port \(pg.port) with pg_ctl \(spec.topology == .pgpool ? "(pgpool-II connects to it; it stays up)" : "(handed to Pacemaker later)")"
            : "start as a standby\(standbyConf == nil ? "" : " (primary_conninfo kept in \(PgpoolPaths.standbyFile(pg)))") and wait until its WAL receiver streams from \(spec.primary)"
    }

    public func probe(_ script: inout FactScript) {
        script.add(probes.managed)
        script.add(probes.running)
        script.add(streaming)
        if role == .standby { script.add(probes.rwVIPAnswers) }
        if let probe = probes.pgpoolPrimary { script.add(probe) }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        if facts[probes.managed] { return nil }  // Pacemaker runs PostgreSQL now
        // Topology pgpool once pgpool runs the cluster: a node that does not run is pgpool's to
        // judge (it may be an old primary whose WAL went past the new primary's fork: started as
        // a primary it would make two, as a standby it may not follow); the pgpool-rejoin step
        // starts a stopped standby or recovers the node online. After a failover the spec's first
        // primary is not the primary any more.
        if let current = probes.pgpoolPrimaryName(facts) {
            if !facts[probes.running] || current == host || role == .primary { return nil }
            return facts[streaming] == "streaming" ? nil
                : Change(.update, "wait until it streams (pgpool-II's primary is \(current) now; follow_primary.sh re-points standbys)")
        }
        switch role {
        case .standby:
            // A node joining a running cluster: Pacemaker's agent starts it (its clone carries
            // the agent's include of a recovery.conf only the agent writes).
            if facts[probes.rwVIPAnswers] && !facts[probes.running] { return nil }
            return facts[streaming] == "streaming" ? nil : Change(.update, "start as a standby of \(probes.source(facts).label) and wait until it streams")
        case .primary:
            return facts[probes.running] ? nil : Change(.update, "start PostgreSQL (pg_ctl\(spec.topology == .pgpool ? "" : ", until Pacemaker takes over"))")
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
            let primary = probes.source(facts).address
            let conninfo = "host=\(primary) port=\(pg.port) user=\(spec.replication.user) application_name=\(host)"
            if let standbyConf {
                return try await startStandby(pg, standbyConf: standbyConf, conninfo: conninfo, log: log,
                                              notStreaming: "the standby did not start streaming within 30 s; see \(log)", on: connection)
            }
            let signal = pg.dataDir + "/standby.signal"
            // pg_ctl hands -o to postgres through /bin/sh: the conninfo's values are validated
            // words (an IPv4 address, a role name, a node name).
            _ = try await run(SafePaths.touch(signal, mode: 0o600, owner: pg.osUser.name, group: pg.osUser.group), on: connection,
                              display: "touch \(signal)")
            _ = try await run(tools.pgCtl("start", ["-w", "-t", "60", "-l", log, "-o", "-c primary_conninfo='\(conninfo)'"]), on: connection)
        }
        try await waitStreaming(pg, failure: "the standby did not start streaming within 30 s; see \(log)", on: connection)
    }
}

extension Step {
    /// Waits (30 s at most) until the server's WAL receiver streams.
    func waitStreaming(_ pg: ClusterSpec.PostgreSQL, failure: String, display: String = "wait for streaming",
                       on connection: HostConnection) async throws {
        let status = pg.tools.psqlCommand.appending("-c", "select status from pg_stat_wal_receiver")
        _ = try await run(Shell.waitUntil("[ \"$(\(status) 2>/dev/null)\" = streaming ]", tries: 60, interval: 0.5, failure: failure),
                          on: connection, display: display)
    }

    /// Topology pgpool: a stopped standby started with its primary_conninfo written by
    /// pgha-standby-conf (templates/pgpool-standby-conf.sh.stencil: it survives restarts), then
    /// waited for until it streams.
    func startStandby(_ pg: ClusterSpec.PostgreSQL, standbyConf: String, conninfo: String, log: String, notStreaming: String,
                      display: String = "wait for streaming", on connection: HostConnection) async throws {
        _ = try await run(Command([standbyConf, conninfo], user: pg.osUser.name), on: connection)
        _ = try await run(pg.tools.pgCtl("start", ["-w", "-t", "60", "-l", log]), on: connection)
        try await waitStreaming(pg, failure: notStreaming, display: display, on: connection)
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
        "create role \(role) with REPLICATION LOGIN (and pg_rewind's function grants); password from \(probes.spec.replication.password) (sensitive, sent on stdin)"
    }

    public func probe(_ script: inout FactScript) {
        script.add(probes.managed)
        script.add(state)
        script.add(probes.storedPassword)
        if let probe = probes.pgpoolPrimary { script.add(probe) }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        if facts[probes.managed] { return nil }
        // Topology pgpool after a failover: the role lives on the primary pgpool-II holds now.
        if let current = probes.pgpoolPrimaryName(facts), current != host { return nil }
        switch facts[state] {
        case "t":
            return facts[probes.storedPassword].differs(from: password, user: role) ? ReplicationPasswordStep.change(probes.spec) : nil
        case "f": return Change(.update, "give role \(role) REPLICATION LOGIN and its password")
        default: return Change(.create, "create role \(role) REPLICATION LOGIN with its password (sensitive)")
        }
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(Self.setPassword(role: role, password: password, tools: probes.pg.tools, create: true), on: connection,
                          display: "psql (create replication role, SQL on stdin)")
    }

    /// psql with the SQL on stdin that sets the role's password (creating the role and granting
    /// pg_rewind's functions first when `create`). The server sees a SCRAM verifier computed here,
    /// not the password (ScramVerifier); and whatever it is sent, this session logs no statement
    /// text (the seed profile logs every statement: log_min_duration_statement = 0), so nothing
    /// of the secret lands in the server log that pg_basebackup copies to every standby.
    static func setPassword(role: String, password: String, tools: PostgresTools, create: Bool) -> Command {
        let secret = ScramVerifier.make(password: password) ?? password
        let sql = """
            SET log_statement = 'none';
            SET log_min_duration_statement = -1;
            SET log_min_error_statement = 'panic';
            SET log_duration = off;
            """ + "\n" + (create ? "SELECT format('CREATE ROLE %I', \(sqlLiteral(role))) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = \(sqlLiteral(role)))\\gexec\n" : "")
            + "ALTER ROLE \(sqlIdentifier(role)) WITH REPLICATION LOGIN PASSWORD \(sqlLiteral(secret));\n"
            + (create ? RewindGrantsStep.grant(role) : "")
        return tools.psqlCommand.appending("-v", "ON_ERROR_STOP=1", "-q", "-f", "-").feeding(Data(sql.utf8))
    }
}
