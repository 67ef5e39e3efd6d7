import Foundation
import PghaRender
import PghaRuntime
import PghaSpec

/// What `plan` and `apply` share: the spec turned into the step catalog, a connection per host,
/// and the facts gathered in one batched round trip per host, hosts in parallel.
public struct LiveSession: Sendable {
    public let loaded: LoadedSpec
    /// How the pcs dialect was chosen, for the plan's first line.
    public let dialectNote: String
    /// What each host runs (PlatformMix.lines), for the plan's second line(s).
    public let platformLines: [String]
    public let steps: [any Step]
    public let connections: [String: any HostConnection]
    public let executor: Executor
    /// Per host, read before anything changed.
    public let facts: [String: Facts]
    public let counter: RoundTrips
    public let runID: String
    /// An apply's lock on every host (`lockForApply`), renewed until `close()` releases it.
    public let lock: ApplyLock?
    /// What taking the lock said (a lock taken over), and, for a plan, the apply running now.
    public let lockNotes: [String]
    let lease: Task<Void, Never>?
    let log: SessionLog?

    /// Resolves every secret before any host is touched (they are needed to compare too: the
    /// hacluster password against /etc/shadow, .pgpass by digest), connects, and reads every
    /// host's facts. Input problems throw DiagnosticsError; hosts that cannot be reached or
    /// read throw SessionFailure. `log` receives the -v lines (timings, every command).
    public static func open(_ inputs: SessionInputs, rebuild: [String], log: SessionLog? = nil, runID: String? = nil,
                            lockForApply: Bool = false, breakLock: Bool = false,
                            connect: ((ClusterSpec, Inventory, [String], RoundTrips) async throws -> [String: any HostConnection])? = nil) async throws -> LiveSession {
        var loaded = try LoadedSpec.load(inputs, requireInventory: true, requireDialect: false)
        guard let inventory = loaded.inventory else { throw SessionFailure(["no inventory"]) }
        let spec = loaded.spec
        let unknown = rebuild.filter { spec.node(named: $0) == nil }
        if !unknown.isEmpty {
            throw DiagnosticsError(unknown.map { Diagnostic(file: "--rebuild", line: 0, column: 0, message: "'\($0)' is not a node of \(spec.file)") })
        }
        let replication: String, hacluster: String
        var pgpoolUsers: [(name: String, password: String)] = []
        var references = [spec.replication.password]
        do {
            replication = try spec.replication.password.resolve()
            if let pgpool = spec.pgpool {
                // Topology pgpool: no Pacemaker, so no hacluster password; pgpool's own secrets instead.
                hacluster = ""
                for user in pgpool.users { pgpoolUsers.append((user.name, try user.password.resolve())) }
                _ = try pgpool.pcpPassword.resolve()
                // Online recovery's superuser, its password derived from the pgpool key.
                if let password = PgpoolSecrets.recoveryPassword(key: try pgpool.key.resolve(), cluster: spec.name) {
                    pgpoolUsers.append((PgpoolSecrets.recoveryUser, password))
                }
                references += [pgpool.key, pgpool.pcpPassword] + pgpool.users.map(\.password)
            } else {
                hacluster = try spec.pacemaker.haclusterPassword.resolve()
                references.append(spec.pacemaker.haclusterPassword)
            }
        } catch {
            throw DiagnosticsError([Diagnostic(file: inputs.spec, line: 0, column: 0, message: "\(error)")])
        }
        for reference in references {
            if let warning = reference.exposure {
                loaded.warnings.append(Diagnostic(file: inputs.spec, line: 0, column: 0, severity: .warning, message: warning))
            }
        }
        let counter = RoundTrips()
        let connectStart = Date()
        let runID = runID ?? BootstrapContext.newRunID()
        guard RunCommands.isRunID(runID) else { throw SessionFailure(["error: '\(runID)' is not a run id of pgha's (YYYYMMDD-HHMMSS)"]) }
        let connections = try await (connect ?? { spec, inventory, secrets, counter in
            try await PghaSession.connect(spec, inventory, log: log, secrets: secrets, counter: counter, run: lockForApply ? runID : nil)
        })(spec, inventory, [replication, hacluster] + pgpoolUsers.map(\.password), counter)
        log?("connected to \(connections.count) hosts in \(seconds(since: connectStart))")
        // The facts, and in the same round trip what each host is: its pcs decides the dialect.
        // Steps are built for the named dialect (or 0.11); when the hosts' pcs says otherwise,
        // they are built again and the facts read once more (a second round trip).
        if spec.topology == .pgpool {
            // pgpool's scripts SSH between the nodes with the host keys pgha itself verified.
            for node in spec.nodes {
                guard let host = inventory.hosts[node.name] else { continue }
                let text = (try? String(contentsOfFile: host.knownHosts, encoding: .utf8)) ?? ""
                loaded.hostKeys[node.name] = KnownHostsKeys.keys(for: host.address, port: host.port, in: text)
            }
        }
        func build(_ dialect: ClusterSpec.PcsDialect) throws -> [any Step] {
            loaded.dialect = dialect
            let files = try loaded.render(secrets: true)
            var context = BootstrapContext(spec: spec, dialect: dialect, files: files, replicationPassword: replication,
                                           haclusterPassword: hacluster, rebuild: Set(rebuild), runID: runID)
            context.pgpoolUsers = pgpoolUsers
            do {
                return try StepCatalog.of(context).steps
            } catch let error as CatalogError {
                throw SessionFailure(["error: \(error) (a defect of pgha; please report it)"])
            }
        }
        func gather(_ steps: [any Step], extra: FactScript? = nil) async throws -> [String: Facts] {
            let start = Date()
            do {
                let facts = try await Executor(steps: steps, connections: connections).gatherFacts(extra: extra)
                log?("facts gathered in \(seconds(since: start))")
                return facts
            } catch {
                throw SessionFailure(["error: gathering facts failed: \(error)"])
            }
        }
        var lock: ApplyLock?
        var lockNotes: [String] = []
        do {
            // The lock before the facts: what the facts say must not move under another apply.
            if lockForApply {
                (lock, lockNotes) = try await ApplyLock.acquire(connections, run: runID, breakLock: breakLock)
                for note in lockNotes { log?(note) }
            }
            let provisional = loaded.declaredDialect ?? .v0_11
            var steps = try build(provisional)
            var extra = Platform.probe
            extra.merge(ApplyLock.probe)
            var facts = try await gather(steps, extra: extra)
            if !lockForApply {
                let holders = Set(facts.values.compactMap { $0["apply-lock"].flatMap(ApplyLock.Holder.init) }.map(\.description))
                lockNotes = holders.sorted().map { "an apply is running: \($0); this plan may be out of date when it ends" }
            }
            let platforms = spec.nodes.map { (host: $0.name, platform: Platform(facts[$0.name] ?? Facts([:]))) }
            let platformLines = PlatformMix.lines(platforms)
            if spec.topology == .pgpool {
                let versions = spec.nodes.map { (host: $0.name, output: facts[$0.name]?["pgpool-version"] ?? "") }
                let choice: (PgpoolSpec.Dialect, String)
                do {
                    choice = try PgpoolDialectChoice.choose(declared: spec.pgpool?.dialect, versions: versions)
                } catch let problem as PgpoolDialectChoice.DialectProblem {
                    throw DiagnosticsError([Diagnostic(file: inputs.spec, line: 0, column: 0, message: problem.description)])
                }
                if choice.0 != loaded.pgpoolDialect {
                    loaded.pgpoolDialect = choice.0
                    steps = try build(provisional)
                    facts = try await gather(steps)
                }
                return LiveSession(loaded: loaded, dialectNote: choice.1, platformLines: platformLines, steps: steps, connections: connections,
                                   executor: Executor(steps: steps, connections: connections), facts: facts, counter: counter,
                                   runID: runID, lock: lock, lockNotes: lockNotes, lease: lock?.keepAlive(), log: log)
            }
            let choice: (ClusterSpec.PcsDialect, String)
            do {
                choice = try DialectChoice.choose(declared: loaded.declaredDialect, platforms: platforms)
            } catch let problem as DialectChoice.Problem {
                throw DiagnosticsError([Diagnostic(file: inputs.spec, line: 0, column: 0, message: problem.description)])
            }
            if choice.0 != provisional {
                steps = try build(choice.0)
                facts = try await gather(steps)
            }
            return LiveSession(loaded: loaded, dialectNote: choice.1, platformLines: platformLines, steps: steps, connections: connections,
                               executor: Executor(steps: steps, connections: connections), facts: facts, counter: counter,
                               runID: runID, lock: lock, lockNotes: lockNotes, lease: lock?.keepAlive(), log: log)
        } catch {
            await lock?.release()
            await closeAll(connections)
            throw error
        }
    }

    /// Every step's pure decision on the facts read when the session opened.
    public func plan() -> LivePlan {
        let decideStart = Date()
        defer { log?("decided in \(seconds(since: decideStart))") }
        let spec = loaded.spec
        var plan = LivePlan(cluster: spec.name, pcsDialect: loaded.dialect.rawValue, pcsDialectNote: dialectNote, hosts: [])
        plan.platform = platformLines
        if lock == nil { plan.notes = lockNotes }
        if let note = primaryNote() { plan.notes = (plan.notes ?? []) + [note] }
        let decisions = executor.plan(facts)
        for node in spec.nodes {
            var host = LivePlan.Host(name: node.name, address: node.address, unchanged: 0, changes: [])
            for (step, change) in decisions where step.host == node.name {
                switch change {
                case .success(nil): host.unchanged += 1
                case .success(let change?):
                    host.changes.append(.init(step: step.name, action: change.action, summary: change.summary, diff: change.diff))
                case .failure(let error):
                    let message = (error as? StepFailure)?.message ?? "\(error)"
                    host.changes.append(.init(step: step.name, action: nil, summary: message, diff: nil))
                }
            }
            plan.hosts.append(host)
        }
        return plan
    }

    /// The spec's cluster.primary names the first primary only: once the cluster runs, the
    /// primary is whoever Pacemaker promoted, and a different cluster.primary moves nothing.
    func primaryNote() -> String? {
        let spec = loaded.spec
        let promoted = spec.nodes.lazy.compactMap { node -> [String]? in
            guard let status = self.facts[node.name].flatMap({ CrmMonStatus.parse($0[CrmMonStatus.probe]) }) else { return nil }
            return status.promoted(spec.pacemaker.pgsqlResource)
        }.first { !$0.isEmpty }
        guard let promoted, promoted.count == 1, let now = promoted.first, now != spec.primary else { return nil }
        return "cluster.primary is \(spec.primary), but \(now) is the primary now; the spec's primary names the first one only and pgha does not move it. To make \(spec.primary) the primary: pgha switchover SPEC -i INVENTORY --to \(spec.primary)"
    }

    /// Releases the lock (if this session holds one) and closes every connection.
    public func close() async {
        lease?.cancel()
        await lock?.release()
        // Last: every command of the run records its group first, this one included.
        if lock != nil {
            await withTaskGroup(of: Void.self) { group in
                for connection in connections.values { group.addTask { _ = try? await connection.run(RunCommands.forget(runID), stdin: nil) } }
            }
        }
        await closeAll(connections)
    }

    /// After an interruption: stops this run's commands still running on every host. Returns
    /// per host how many process groups were signalled.
    public func stopRemoteCommands() async -> [String: Int] {
        await withTaskGroup(of: (String, Int).self) { group in
            for (host, connection) in connections {
                group.addTask {
                    let out = (try? await connection.run(RunCommands.stop(runID), stdin: nil).stdout) ?? ""
                    return (host, RunCommands.signalled(out))
                }
            }
            var all: [String: Int] = [:]
            for await (host, n) in group { all[host] = n }
            return all
        }
    }
}

public func seconds(since date: Date) -> String { String(format: "%.2f s", Date().timeIntervalSince(date)) }
