import Foundation
import PghaShell
import Glibc
import PghaPlan
import PghaRender
import PghaSpec

/// Everything the bootstrap steps need besides facts: the spec, the files rendered for this
/// run (with secrets), the secrets themselves, and what the user allowed for this run.
public struct BootstrapContext: Sendable {
    public var spec: ClusterSpec
    public var dialect: ClusterSpec.PcsDialect
    public var files: [RenderedFile]
    public var replicationPassword: String
    public var haclusterPassword: String
    /// Nodes whose data directory the user allowed to be rebuilt for this run (--rebuild NODE).
    public var rebuild: Set<String>
    /// Names what this run leaves behind (a rebuilt node's old data directory).
    public var runID: String

    public init(spec: ClusterSpec, dialect: ClusterSpec.PcsDialect, files: [RenderedFile],
                replicationPassword: String, haclusterPassword: String, rebuild: Set<String> = [],
                runID: String = BootstrapContext.newRunID()) {
        self.spec = spec
        self.dialect = dialect
        self.files = files
        self.replicationPassword = replicationPassword
        self.haclusterPassword = haclusterPassword
        self.rebuild = rebuild
        self.runID = runID
    }

    public static func newRunID() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date())
    }

    var pg: ClusterSpec.PostgreSQL { spec.postgresql }
    func file(_ node: String?, _ path: String) -> RenderedFile? { files.first { $0.node == node && $0.path == path } }
}

/// A step whose probes, decision and commands are given as values; the bootstrap catalog
/// below builds one per planned step.
public struct ShellStep: Step {
    public var host: String
    public var name: String
    public var dependsOn: [String]
    public var probes: [(name: String, command: Shell)]
    /// Shared facts (SharedFacts) the probes read.
    public var shared: [(variable: SharedFacts.Variable, command: Shell)] = []
    public var decision: @Sendable (Facts) throws -> Change?
    public var action: @Sendable (ShellStep, Facts, HostConnection) async throws -> Void

    public func probe(_ script: inout FactScript) {
        for value in shared { script.share(value.variable, value.command) }
        for probe in probes { script.add(probe.name, probe.command) }
    }
    public func decide(_ facts: Facts) throws -> Change? { try decision(facts) }
    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        try await action(self, facts, connection)
    }

    func fail(_ message: String) -> StepFailure { StepFailure(host: host, step: name, message: message) }
}

/// Turns the planned bootstrap (PghaPlan.BootstrapPlan) into executable steps.
public enum BootstrapSteps {
    public static func make(plan: BootstrapPlan, context: BootstrapContext) -> [any Step] {
        plan.steps.map { planned in step(for: planned, context) }
    }

    static func step(for planned: PlannedStep, _ c: BootstrapContext) -> any Step {
        let host = planned.host
        func file(_ path: String) -> any Step {
            guard let rendered = c.file(host, path) else { return missing(planned, "no rendered file \(path)") }
            return FileStep(host: host, name: planned.name, dependsOn: planned.dependsOn, file: rendered)
        }
        // A probe: its name, its command, and the shared facts (SharedFacts) it reads.
        typealias Probe = (name: String, command: Shell, reads: [SharedFacts.Variable])
        func shell(_ probes: [Probe], decide: @escaping @Sendable (Facts) throws -> Change?,
                   apply: @escaping @Sendable (ShellStep, Facts, HostConnection) async throws -> Void) -> any Step {
            let shared = [SharedFacts.cib, SharedFacts.pg(c.spec)].filter { value in probes.contains { $0.reads.contains(value.variable) } }
            return ShellStep(host: host, name: planned.name, dependsOn: planned.dependsOn,
                             probes: probes.map { (name: $0.name, command: $0.command) }, shared: shared, decision: decide, action: apply)
        }
        let pg = c.pg
        let user = pg.osUser.name
        let dataDir = pg.dataDir
        let tools = pg.tools
        let psql = tools.tool("psql", ["-X", "-p", String(pg.port), "-v", "ON_ERROR_STOP=1"])
        let managed: Probe = ("cluster.managed", SharedFacts.cibHas(c.spec.pacemaker.pgsqlResource), [.cib])
        let running: Probe = ("pg.running", "\(tools.pgCtl("status")) >/dev/null 2>&1 && echo yes || echo no", [])
        let versionFile = dataDir + "/PG_VERSION"
        let datadir: Probe = ("pg.datadir", "if [ -d \(dataDir) ]; then echo \"entries=$(ls -A \(dataDir) | wc -l)\"; cat \(versionFile) 2>/dev/null; else echo absent; fi", [])
        @Sendable func isManaged(_ f: Facts) -> Bool { f["cluster.managed"] == "yes" }
        @Sendable func isEmptyDataDir(_ f: Facts) -> Bool { ["absent", "entries=0"].contains(f["pg.datadir"] ?? "absent") }
        // --rebuild: the old data directory is renamed, never deleted; the name carries this
        // run's id, so the check after the rebuild (and a re-run plan) sees it was done.
        let aside = "\(dataDir).pgha-old-\(c.runID)"
        let rebuilt: Probe = ("pg.rebuilt", "[ -e \(aside) ] && echo yes || echo no", [])
        let moveAside = Shell.all([Command("mv", dataDir, aside).shell, Command("mkdir", "-m", "700", dataDir).shell,
                                   Command("chown", user + ":" + pg.osUser.group, dataDir).shell])
        @Sendable func isRunning(_ f: Facts) -> Bool { f["pg.running"] == "yes" }

        switch planned.name {
        case "hosts-file": return file("/etc/hosts")
        case "profile": return file("\(pg.osUser.home)/.bash_profile")
        case "pgpass": return file("\(pg.osUser.home)/.pgpass")
        case "postgresql-conf", "pg-hba":
            // A running server is reloaded (or a standby restarted through Pacemaker) after the write.
            let path = "\(dataDir)/\(planned.name == "pg-hba" ? "pg_hba.conf" : "postgresql.conf")"
            guard let fileStep = file(path) as? FileStep else { return file(path) }
            return PostgresConfigStep(file: fileStep, binDir: pg.binDir, dataDir: dataDir, osUser: user, port: pg.port,
                                      clone: c.spec.pacemaker.pgsqlClone, pgsqlResource: c.spec.pacemaker.pgsqlResource,
                                      sharedState: SharedFacts.pg(c.spec))

        case "firewall":
            let mode = c.spec.os.firewall
            let ports = FirewallPlan.ports(postgresPort: pg.port)
            return shell([("firewall", FirewallPlan.probe, [])], decide: { f in
                try FirewallPlan.commands(mode: mode, probe: f["firewall"] ?? "", ports: ports, host: host).map { Change(.update, $0.summary) }
            }, apply: { step, f, connection in
                for command in try FirewallPlan.commands(mode: mode, probe: f["firewall"] ?? "", ports: ports, host: host)?.commands ?? [] {
                    _ = try await step.run(command, on: connection)
                }
            })

        case "selinux":
            let want = c.spec.os.selinux.rawValue
            return shell([("selinux", "grep -E '^SELINUX=' /etc/selinux/config 2>/dev/null; echo current=$(getenforce 2>/dev/null)", [])],
                         decide: { f in
                let text = f["selinux"] ?? ""
                guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("SELINUX=") }) else { return nil }  // no SELinux here
                return line == "SELINUX=\(want)" ? nil : Change(.update, "\(line) → SELINUX=\(want) (takes full effect after a reboot)")
            }, apply: { step, _, connection in
                let edit: String = "s/^SELINUX=.*/SELINUX=" + want + "/"
                let enforce = want == "enforcing" ? 1 : 0
                _ = try await step.run("sed -i \(edit) /etc/selinux/config && { [ \(want) = disabled ] || setenforce \(enforce) 2>/dev/null || true; }", on: connection)
            })

        case "time-sync":
            let service = c.spec.os.timeSync, servers = c.spec.os.timeServers
            let probe = TimeSyncPlan.probe(service)
            let units = TimeSyncPlan.units(service)
            @Sendable func describe(_ actions: [TimeSyncPlan.Action], _ state: TimeSyncPlan.State) -> Change? {
                guard !actions.isEmpty else { return nil }
                var words: [String] = [], diff: String?
                for action in actions {
                    switch action {
                    case .install: words.append("install \(service.rawValue), servers \(servers.joined(separator: ", ")), enable and start it")
                    case let .configure(path, content, restart):
                        words.append("servers \(servers.joined(separator: ", ")) in \(path)\(restart ? ", restart" : "")")
                        diff = unifiedDiff(old: state.content ?? "", new: content, oldName: path, newName: path)
                    case .enable: words.append("enable and start \(service.rawValue)")
                    }
                }
                return Change(actions.first == .install ? .create : .update, words.joined(separator: "; "), diff: diff)
            }
            return shell([("time-sync", probe, [])], decide: { f in
                let state = TimeSyncPlan.State(f["time-sync"] ?? "")
                return describe(TimeSyncPlan.actions(service: service, servers: servers, state: state), state)
            }, apply: { step, f, connection in
                var state = TimeSyncPlan.State(f["time-sync"] ?? "")
                var actions = TimeSyncPlan.actions(service: service, servers: servers, state: state)
                if actions.first == .install {
                    _ = try await step.run(installPackagesCommand([service.rawValue]), on: connection)
                    state = TimeSyncPlan.State(try await step.run(probe, on: connection, display: "read the \(service.rawValue) configuration").stdout)
                    actions = TimeSyncPlan.actions(service: service, servers: servers, state: state)
                    if actions.first == .install { throw step.fail("\(service.rawValue) is installed but none of \(TimeSyncPlan.configPaths(service).joined(separator: ", ")) exists") }
                }
                let anyUnit = { (verb: [String]) -> Shell in Shell.join(units.map { "systemctl \(words: verb) \($0) 2>/dev/null" }, separator: " || ") }
                for action in actions {
                    switch action {
                    case .install: break
                    case let .configure(path, content, restart):
                        try await connection.upload(Data(content.utf8), to: path, mode: 0o644, owner: "root", group: "root")
                        if restart { _ = try await step.run(anyUnit(["restart"]), on: connection) }
                    case .enable:
                        _ = try await step.run(anyUnit(["enable", "--now"]), on: connection)
                    }
                }
            })

        case "cluster-packages", "postgresql-packages":
            let names: [String]
            switch planned.name {
            case "cluster-packages": names = ["pacemaker", "corosync", "pcs", "resource-agents", "fence-agents"]
            case "postgresql-packages": names = pg.install.packages
            default: names = pg.install.buildPackages
            }
            let query = installedPackagesQuery(names)
            return shell([("packages:\(planned.name)", query, [])], decide: { f in
                let installed = parseInstalledPackages(f["packages:\(planned.name)"] ?? "")
                let missing = names.filter { installed[$0] == nil }
                return missing.isEmpty ? nil : Change(.create, "install \(missing.joined(separator: " "))")
            }, apply: { step, f, connection in
                let installed = parseInstalledPackages(f["packages:\(planned.name)"] ?? "")
                _ = try await step.run(installPackagesCommand(names.filter { installed[$0] == nil }), on: connection)
            })

        case "build-packages":
            // The spec's list, or seed 000's EL list and its Debian equivalents: the host's OS family picks.
            let asked = SourceBuild.probedBuildPackages(pg)
            let query = installedPackagesQuery(asked)
            @Sendable func missing(_ f: Facts) throws -> [String] {
                guard let names = SourceBuild.buildPackages(pg, osRelease: f["os-release"]) else {
                    throw StepFailure(host: host, step: planned.name, message: "/etc/os-release names neither an EL nor a Debian family, so pgha cannot pick the build packages; list them in postgresql.install.build_packages")
                }
                let installed = parseInstalledPackages(f["packages:build"] ?? "")
                return names.filter { installed[$0] == nil }
            }
            return shell([("os-release", "cat /etc/os-release", []), ("packages:build", query, [])], decide: { f in
                let names = try missing(f)
                return names.isEmpty ? nil : Change(.create, "install \(names.joined(separator: " "))")
            }, apply: { step, f, connection in
                _ = try await step.run(installPackagesCommand(try missing(f)), on: connection)
            })

        case "postgresql-build":
            guard let prefix = pg.install.prefix, let tarball = pg.install.tarball, let version = pg.install.sourceVersion else {
                return missing(planned, "the spec's source install names no prefix, tarball or version")
            }
            let group = pg.osUser.group
            let directory = SourceBuild.buildDirectory(version: version)
            let tarballName = (tarball as NSString).lastPathComponent
            @Sendable func decision(_ f: Facts) throws -> (work: SourceBuild.Work, change: Change)? {
                let installed = SourceBuild.Installed(f["postgresql-build"] ?? "")
                if let pid = installed.building {
                    throw StepFailure(host: host, step: planned.name, message: "a build is still running in \(directory) (pid \(pid)); wait for it to end or stop it, then re-run")
                }
                let found = SourceBuild.decide(installed, version: version, prefix: prefix, flags: pg.install.configureFlags,
                                               tarball: tarball, user: user, group: group)
                if found?.work == .build && !FileManager.default.isReadableFile(atPath: tarball) {
                    throw StepFailure(host: host, step: planned.name, message: "\(found!.change.summary), but the tarball \(tarball) is not readable on this machine")
                }
                return found
            }
            return shell([("postgresql-build", SourceBuild.probe(prefix: prefix, buildDirectory: directory), [])], decide: { f in
                try decision(f)?.change
            }, apply: { step, f, connection in
                guard let work = try decision(f)?.work else { return }
                if work == .ownership {
                    _ = try await step.run(Shell.all([Command("chown", "-R", user + ":" + group, prefix).shell, Command("chmod", "755", prefix).shell]), on: connection)
                    return
                }
                let dir = directory
                _ = try await step.run("rm -rf \(dir) && mkdir -p \(dir) && chmod 700 \(dir)", on: connection)
                let bytes = try Data(contentsOf: URL(fileURLWithPath: tarball), options: .mappedIfSafe)
                try await connection.upload(bytes, to: "\(directory)/\(tarballName)", mode: 0o644, owner: "root", group: "root")
                let script = SourceBuild.script(tarballName: tarballName, prefix: prefix, flags: pg.install.configureFlags, user: user, group: group)
                try await connection.upload(Data(script.utf8), to: "\(directory)/build.sh", mode: 0o755, owner: "root", group: "root")
                // Detached (its own session): a build outlasts the transport's per-command limit.
                _ = try await step.run("cd \(dir) && { setsid sh -c 'sh ./build.sh > build.log 2>&1; echo $? > build.rc' < /dev/null > /dev/null 2>&1 & echo $! > build.pid; }",
                                       on: connection, display: "\(directory)/build.sh (detached; output in build.log)")
                let started = ContinuousClock.now
                let limit = Duration.seconds(SourceBuild.buildTimeLimit)
                let poll: Shell = "cd \(dir) && for i in $(seq 30); do [ -f build.rc ] && break; kill -0 \"$(cat build.pid)\" 2>/dev/null || break; sleep 2; done; if [ -f build.rc ]; then echo \"rc=$(cat build.rc)\"; elif kill -0 \"$(cat build.pid)\" 2>/dev/null; then echo running; else echo vanished; fi"
                var state = "running"
                while state == "running" {
                    if ContinuousClock.now - started > limit {
                        let pidFile = dir + "/build.pid"
                        _ = try? await connection.run("kill -TERM -- -$(cat \(pidFile)) 2>/dev/null", stdin: nil)
                        state = "timeout"
                        break
                    }
                    state = try await step.run(poll, on: connection, display: "wait for the build").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                if state == "rc=0" {
                    _ = try await step.run("rm -rf \(dir)", on: connection)
                    return
                }
                let log = (try? await connection.run(Command("tail", "-n", "25", dir + "/build.log")).stdout) ?? ""
                let how = state == "timeout" ? "did not finish within \(SourceBuild.buildTimeLimit / 60) minutes and was stopped"
                    : state == "vanished" ? "stopped without an exit status (killed?)" : "failed (exit \(state.dropFirst(3)))"
                throw step.fail("the build of PostgreSQL \(version) \(how) after \(Int((ContinuousClock.now - started).components.seconds)) s; \(directory) is kept. Last lines of build.log:\n\(log.trimmingCharacters(in: .newlines))")
            })

        case "distribution-cluster":
            // Debian creates and starts a "main" cluster with the server package; on our port it
            // would take the place of ours. A pristine one (no user databases, no tables) is
            // stopped and set to manual start; one that holds data is never touched.
            let version = pg.version
            // Read from /etc/postgresql (pg_lsclusters is perl: 40 ms of a host's CPU per plan).
            let probe: Shell = """
                for conf in /etc/postgresql/\(version)/*/postgresql.conf; do
                  [ -f "$conf" ] || continue
                  etc=${conf%/postgresql.conf}; name=${etc##*/}
                  dir=$(sed -n "s/^[[:space:]]*data_directory[[:space:]]*=[[:space:]]*'\\(.*\\)'.*/\\1/p" "$conf" | tail -1)
                  [ -n "$dir" ] && [ "$dir" != \(dataDir) ] || continue
                  port=$(sed -n "s/^[[:space:]]*port[[:space:]]*=[[:space:]]*\\([0-9]*\\).*/\\1/p" "$conf" | tail -1)
                  port=${port:-5432}
                  status=down
                  [ -f "$dir/postmaster.pid" ] && kill -0 "$(head -1 "$dir/postmaster.pid")" 2>/dev/null && status=online
                  start=$(grep -v '^#' "$etc/start.conf" 2>/dev/null | head -1)
                  if [ $status = online ]; then
                    used=$(cd / && runuser -u postgres -- psql -X -p "$port" -Atc "select (select count(*) from pg_database where datname not in ('postgres','template0','template1')) + (select count(*) from pg_class where relkind = 'r' and relnamespace not in (select oid from pg_namespace where nspname in ('pg_catalog','information_schema','pg_toast')))" 2>/dev/null || echo unknown)
                  else
                    used=$(find "$dir/base" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l | awk '{print ($1 > 3) ? $1 - 3 : 0}')
                  fi
                  echo "$name $port $status ${start:-auto} $used"
                done
                """
            // Cluster names come from the host: only a plain directory name is acted on.
            @Sendable func clusters(_ f: Facts) -> [[String]] {
                (f["distribution-cluster"] ?? "").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
                    .filter { $0.count == 5 && $0[1] == String(pg.port) }
            }
            @Sendable func plainName(_ name: String) -> Bool {
                name.range(of: "^[A-Za-z0-9_][A-Za-z0-9_.-]*$", options: .regularExpression) != nil
            }
            return shell([("distribution-cluster", probe, [])], decide: { f in
                var actions: [String] = []
                for fields in clusters(f) {
                    let (name, status, start, used) = (fields[0], fields[2], fields[3], fields[4])
                    guard plainName(name) else {
                        throw StepFailure(host: host, step: planned.name, message: "the distribution's PostgreSQL cluster directory under /etc/postgresql/\(version) has a name pgha does not act on (\(quote(name))); stop it yourself, then re-run")
                    }
                    guard status == "online" || start == "auto" else { continue }
                    guard used == "0" else {
                        throw StepFailure(host: host, step: planned.name, message: "the distribution's PostgreSQL cluster \(version)/\(name) on port \(pg.port) holds data (\(used) user databases/tables); pgha will not stop it. Move it to another port or remove it yourself, then re-run")
                    }
                    actions.append("stop \(version)/\(name) (pristine) and set it to manual start")
                }
                return actions.isEmpty ? nil : Change(.update, actions.joined(separator: "; "))
            }, apply: { step, f, connection in
                for fields in clusters(f) where plainName(fields[0]) {
                    let name = fields[0]
                    let startConf = "/etc/postgresql/\(version)/\(name)/start.conf"
                    _ = try await step.run("\(Command("pg_ctlcluster", String(version), name, "stop")) 2>/dev/null || true; echo manual > \(startConf)", on: connection)
                }
            })

        case "os-user":
            let group = pg.osUser.group
            return shell([("os-user", "echo group=$(getent group \(group) | cut -d: -f3); echo user=$(getent passwd \(user) | cut -d: -f3,6)", [])],
                         decide: { f in
                let lines = (f["os-user"] ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                let gid = lines.first { $0.hasPrefix("group=") }?.dropFirst(6) ?? ""
                let entry = lines.first { $0.hasPrefix("user=") }?.dropFirst(5) ?? ""
                var missing: [String] = []
                if gid.isEmpty { missing.append("group \(group)") }
                if entry.isEmpty { missing.append("user \(user)") }
                if !missing.isEmpty { return Change(.create, "create \(missing.joined(separator: ", "))") }
                if let want = pg.osUser.gid, String(gid) != String(want) {
                    throw StepFailure(host: host, step: planned.name, message: "group \(group) has gid \(gid), the spec says \(want); pgha does not renumber existing groups")
                }
                let uid = entry.split(separator: ":").first.map(String.init) ?? ""
                if let want = pg.osUser.uid, uid != String(want) {
                    throw StepFailure(host: host, step: planned.name, message: "user \(user) has uid \(uid), the spec says \(want); pgha does not renumber existing users")
                }
                return nil
            }, apply: { step, _, connection in
                let groupadd = Command(["groupadd"] + (pg.osUser.gid.map { ["-g", String($0)] } ?? []) + [group])
                let useradd = Command(["useradd", "-m", "-d", pg.osUser.home, "-g", group] + (pg.osUser.uid.map { ["-u", String($0)] } ?? []) + ["-s", "/bin/bash", user])
                _ = try await step.run("getent group \(group) >/dev/null || \(groupadd); getent passwd \(user) >/dev/null || \(useradd)", on: connection)
            })

        case "directories":
            let dirs = [dataDir] + [pg.archiveDir, pg.backupDir, c.spec.pacemaker.tmpdir].compactMap { $0 } + [pg.osUser.home]
            let probe = Shell.join(dirs.map { dir in
                let absent: String = dir + " absent"
                return "stat -c '%n %a %U %G' \(dir) 2>/dev/null || echo \(absent)"
            })
            let group = pg.osUser.group
            return shell([("directories", probe, [])], decide: { f in
                var wrong: [String] = []
                for line in (f["directories"] ?? "").split(separator: "\n") {
                    let fields = line.split(separator: " ").map(String.init)
                    guard let path = fields.first else { continue }
                    let mode = path == pg.osUser.home ? nil : "700"
                    if fields.count == 2 { wrong.append("create \(path)") }
                    else if fields.count == 4 && (fields[2] != user || fields[3] != group || (mode != nil && fields[1] != mode)) {
                        wrong.append("\(path) \(fields[1]) \(fields[2]):\(fields[3]) → \(mode ?? fields[1]) \(user):\(group)")
                    }
                }
                return wrong.isEmpty ? nil : Change(wrong.allSatisfy { $0.hasPrefix("create") } ? .create : .update, wrong.joined(separator: "; "))
            }, apply: { step, _, connection in
                let commands: [Shell] = dirs.flatMap { dir in
                    [Command("mkdir", "-p", dir).shell, Command("chown", user + ":" + group, dir).shell]
                        + (dir == pg.osUser.home ? [] : [Command("chmod", "700", dir).shell])
                }
                _ = try await step.run(Shell.all(commands), on: connection)
            })

        case "initdb":
            let options = pg.initdbOptions.map(quote).joined(separator: " ")
            let rebuild = c.rebuild.contains(host)
            return shell([datadir] + (rebuild ? [rebuilt] : []), decide: { f in
                let text = f["pg.datadir"] ?? "absent"
                if isEmptyDataDir(f) {
                    return Change(.create, "initdb \(dataDir) \(options)")
                }
                if text.split(separator: "\n").count >= 2 { return nil }  // PG_VERSION present: initialised
                if rebuild && f["pg.rebuilt"] != "yes" {
                    return Change(.destructive, "move \(dataDir) (not empty, no PostgreSQL cluster) aside to \(aside), then initdb (--rebuild \(host))")
                }
                throw StepFailure(host: host, step: planned.name, message: "\(dataDir) is not empty and holds no PostgreSQL cluster; pgha never initialises over existing files. Empty it yourself, or name this node with --rebuild \(host) (the old directory is kept, renamed)")
            }, apply: { step, f, connection in
                if rebuild && !isEmptyDataDir(f) {
                    _ = try await step.run(moveAside, on: connection)
                }
                _ = try await step.run("\(tools.tool("initdb", ["-D", dataDir] + pg.initdbOptions)) >/dev/null", on: connection)
            })

        case "start-primary", "verify-streaming":
            let primary = c.spec.node(named: c.spec.primary)?.address ?? c.spec.primary
            let isStandby = planned.name == "verify-streaming"
            let conninfo = "host=\(primary) port=\(pg.port) user=\(c.spec.replication.user) application_name=\(host)"
            let streaming: Probe = ("pg.streaming", SharedFacts.pgValue("wal_receiver"), [.pg])
            return shell([managed, running, streaming], decide: { f in
                if isManaged(f) { return nil }  // Pacemaker runs PostgreSQL now
                if isStandby { return f["pg.streaming"] == "streaming" ? nil : Change(.update, "start as a standby of \(c.spec.primary) and wait until it streams") }
                return isRunning(f) ? nil : Change(.update, "start PostgreSQL (pg_ctl, until Pacemaker takes over)")
            }, apply: { step, f, connection in
                let log = "\(pg.osUser.home)/pgha-bootstrap.log"
                if isStandby {
                    if !isRunning(f) {
                        let signal = dataDir + "/standby.signal"
                        // pg_ctl hands -o to postgres through /bin/sh: the conninfo's values are
                        // validated words (an IPv4 address, a role name, a node name).
                        _ = try await step.run(Shell.all([Command("touch", signal).shell, Command("chown", user, signal).shell,
                                                          tools.pgCtl("start", ["-w", "-t", "60", "-l", log, "-o", "-c primary_conninfo='\(conninfo)'"]).shell]), on: connection)
                    }
                    let status = psql.appending("-At", "-c", "select status from pg_stat_wal_receiver")
                    _ = try await step.run(Shell.waitUntil("[ \"$(\(status) 2>/dev/null)\" = streaming ]", tries: 60, interval: 0.5,
                                                           failure: "the standby did not start streaming within 30 s; see \(log)"),
                                           on: connection, display: "wait for streaming")
                } else {
                    _ = try await step.run(tools.pgCtl("start", ["-w", "-t", "60", "-l", log]), on: connection)
                }
            })

        case "stop-primary", "stop-standby":
            return shell([managed, running], decide: { f in
                (isManaged(f) || !isRunning(f)) ? nil : Change(.update, "stop PostgreSQL (Pacemaker takes over)")
            }, apply: { step, _, connection in
                _ = try await step.run(tools.pgCtl("stop", ["-m", "fast", "-w", "-t", "60"]), on: connection)
            })

        case "replication-user":
            let role = c.spec.replication.user
            let check: Probe = ("pg.replication-role", SharedFacts.pgValue("replication_role"), [.pg])
            return shell([managed, check], decide: { f in
                if isManaged(f) { return nil }
                switch f["pg.replication-role"] {
                case "t": return nil
                case "f": return Change(.update, "give role \(role) REPLICATION LOGIN and its password")
                default: return Change(.create, "create role \(role) REPLICATION LOGIN with its password (sensitive)")
                }
            }, apply: { step, _, connection in
                // The password travels in SQL on stdin, never in argv.
                let sql = """
                    SELECT format('CREATE ROLE %I', \(sqlLiteral(role))) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = \(sqlLiteral(role)))\\gexec
                    ALTER ROLE \(sqlIdentifier(role)) WITH REPLICATION LOGIN PASSWORD \(sqlLiteral(c.replicationPassword));

                    """
                _ = try await step.run(psql.appending("-q", "-f", "-").feeding(Data(sql.utf8)), on: connection, display: "psql (create replication role, SQL on stdin)")
            })

        case "basebackup":
            let primary = c.spec.node(named: c.spec.primary)?.address ?? c.spec.primary
            let rebuild = c.rebuild.contains(host)
            let rwVIP = c.spec.vips.readWrite.ip
            // A rebuild clones from whoever is primary now: the rw VIP, when it answers.
            let source: Probe = ("pg.rw-vip", "\(tools.tool("pg_isready", ["-q", "-h", rwVIP, "-p", String(pg.port), "-t", "2"], asUser: false)) && echo up || echo down", [])
            return shell([managed, datadir] + (rebuild ? [rebuilt, source] : []), decide: { f in
                let text = f["pg.datadir"] ?? "absent"
                if isEmptyDataDir(f) {
                    return Change(.create, "pg_basebackup from \(c.spec.primary) into \(dataDir)")
                }
                if rebuild && f["pg.rebuilt"] != "yes" {
                    if isManaged(f) {
                        throw StepFailure(host: host, step: planned.name, message: "\(host) is running in the cluster; take it out first (pcs cluster stop \(host)), then re-run with --rebuild \(host)")
                    }
                    let from = f["pg.rw-vip"] == "up" ? "the current primary (rw VIP \(rwVIP))" : c.spec.primary
                    return Change(.destructive, "move \(dataDir) aside to \(aside), then pg_basebackup from \(from) (--rebuild \(host))")
                }
                if text.split(separator: "\n").count >= 2 { return nil }
                throw StepFailure(host: host, step: planned.name, message: "\(dataDir) is not empty; pgha never clones over existing files. Check it, then name this node with --rebuild \(host) to replace it (the old directory is kept, renamed)")
            }, apply: { step, f, connection in
                var from = primary
                if rebuild && !isEmptyDataDir(f) {
                    if f["pg.rw-vip"] == "up" { from = rwVIP }
                    _ = try await step.run("\(tools.pgCtl("stop", ["-m", "fast", "-w", "-t", "60"])) >/dev/null 2>&1; true", on: connection)
                    // The agent's lock says "my data may be newer than the standbys'": not true of a fresh clone.
                    let lock = c.spec.pacemaker.tmpdir.map { [Command("rm", "-f", $0 + "/PGSQL.lock").shell] } ?? []
                    _ = try await step.run(Shell.all([moveAside] + lock), on: connection)
                }
                _ = try await step.run(tools.tool("pg_basebackup", ["-h", from, "-p", String(pg.port), "-U", c.spec.replication.user,
                                                                 "-D", dataDir, "-X", "stream", "-c", "fast", "-w"]), on: connection)
            })

        case "hacluster-password":
            return shell([("hacluster.shadow", "getent shadow hacluster | cut -d: -f2", [])], decide: { f in
                let hash = f["hacluster.shadow"] ?? ""
                return passwordMatches(c.haclusterPassword, hash: hash) ? nil : Change(.update, "set the hacluster password (sensitive)")
            }, apply: { step, _, connection in
                _ = try await step.run(Command("chpasswd", stdin: Data("hacluster:\(c.haclusterPassword)\n".utf8)), on: connection, display: "chpasswd (hacluster, password on stdin)")
            })

        case "pcsd":
            let listening: Shell = "(ss -ltn 2>/dev/null || netstat -ltn) | grep -q ':2224 '"
            return shell([("pcsd", "echo $(systemctl is-active pcsd 2>/dev/null) $(systemctl is-enabled pcsd 2>/dev/null) $( (ss -ltn 2>/dev/null || netstat -ltn) | grep -c ':2224 ')", [])],
                         decide: { f in
                let fields = (f["pcsd"] ?? "").split(separator: " ").map(String.init)
                guard fields.count == 3 else { return Change(.update, "start and enable pcsd") }
                var todo: [String] = []
                if fields[0] != "active" || fields[2] == "0" { todo.append("start") }
                if fields[1] != "enabled" { todo.append("enable") }
                return todo.isEmpty ? nil : Change(.update, "\(todo.joined(separator: " and ")) pcsd")
            }, apply: { step, _, connection in
                _ = try await step.run("systemctl enable pcsd && systemctl start pcsd && \(Shell.waitUntil(listening, tries: 60, interval: 0.5, failure: "pcsd does not listen on 2224"))",
                                       on: connection, display: "systemctl enable --now pcsd; wait for :2224")
            })

        case "corosync-default":
            let probe: Shell = "if [ -f /etc/corosync/corosync.conf ]; then echo \"name=$(awk '$1 == \"cluster_name:\" {print $2}' /etc/corosync/corosync.conf)\"; echo \"loopback=$(grep -c 'ring0_addr: *127.0.0.1' /etc/corosync/corosync.conf)\"; echo \"resources=$(printf '%s' \(SharedFacts.Variable.cib.expansion) | grep -c '<primitive')\"; else echo absent; fi"
            return shell([("corosync.conf", probe, [.cib])], decide: { f in
                let text = f["corosync.conf"] ?? "absent"
                if text == "absent" { return nil }
                let values = Dictionary(text.split(separator: "\n").compactMap { line -> (String, String)? in
                    let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                    return parts.count == 2 ? (parts[0], parts[1]) : nil
                }, uniquingKeysWith: { $1 })
                if values["name"] == c.spec.name { return nil }
                if values["name"] == "debian" && values["loopback"] != "0" && (values["resources"] ?? "0") == "0" {
                    return Change(.delete, "remove the distribution's default single-node cluster 'debian' (pcs cluster destroy; it has no resources)")
                }
                throw StepFailure(host: host, step: planned.name, message: "this host is already in cluster '\(values["name"] ?? "?")' (/etc/corosync/corosync.conf); pgha will not destroy another cluster. Remove it yourself, then re-run")
            }, apply: { step, _, connection in
                _ = try await step.run(Command("pcs", "cluster", "destroy"), on: connection)
            })

        case "pgsql-agent-fix":
            let shellfuncs = "/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs"
            // grep -c prints the count (0 included); a missing file prints nothing.
            return shell([("ocf.crm_attribute", "grep -c 'crm_attribute -p \\$@' \(shellfuncs) 2>/dev/null; true", [])], decide: { f in
                (Int((f["ocf.crm_attribute"] ?? "").split(separator: "\n").first ?? "") ?? 0) == 0 ? nil
                    : Change(.update, "patch \(shellfuncs): crm_attribute -p → crm_attribute --promotion (resource-agents 4.12 on Debian 12 fails every pgsql start)")
            }, apply: { step, _, connection in
                _ = try await step.run("sed -i 's|crm_attribute -p \\$@|crm_attribute --promotion $@|' \(shellfuncs)", on: connection)
            })

        case "pcs-auth":
            let names = c.spec.nodes.map(\.name)
            let known = c.dialect == .v0_9 ? "/var/lib/pcsd/tokens" : "/var/lib/pcsd/known-hosts"
            let command = PcsCommands(spec: c.spec, dialect: c.dialect).authCommand()
            return shell([("pcs.known-hosts", "cat \(known) 2>/dev/null", [])], decide: { f in
                let text = f["pcs.known-hosts"] ?? ""
                let missing = names.filter { !text.contains("\"\($0)\"") }
                return missing.isEmpty ? nil : Change(.update, "authenticate \(missing.joined(separator: ", ")) to each other as hacluster")
            }, apply: { step, _, connection in
                _ = try await step.run(Command(command.arguments, stdin: Data("\(c.haclusterPassword)\n".utf8)), on: connection,
                                       display: Command(command.arguments).description + " (password on stdin)")
            })

        case "cluster-setup":
            let command = Command(PcsCommands(spec: c.spec, dialect: c.dialect).clusterSetupCommand().arguments)
            return shell([("corosync.name", "awk '$1 == \"cluster_name:\" {print $2}' /etc/corosync/corosync.conf 2>/dev/null", [])], decide: { f in
                f["corosync.name"] == c.spec.name ? nil : Change(.create, "create cluster \(c.spec.name) on \(c.spec.nodes.map(\.name).joined(separator: ", "))")
            }, apply: { step, _, connection in
                _ = try await step.run(command, on: connection)
            })

        case "cluster-start":
            let expected = c.spec.nodes.count
            return shell([("crm_mon", "\(CrmMonStatus.query) 2>/dev/null", [])], decide: { f in
                let status = CrmMonStatus.parse(f["crm_mon"] ?? "")
                guard let status, status.quorate, status.onlineNodes.count == expected else {
                    return Change(.update, "start the cluster on every node and wait for quorum")
                }
                return nil
            }, apply: { step, _, connection in
                _ = try await step.run(Command("pcs", "cluster", "start", "--all"), on: connection)
                if c.spec.pacemaker.enableAtBoot { _ = try await step.run(Command("pcs", "cluster", "enable", "--all"), on: connection) }
                let quorate: Shell = "s=$(\(CrmMonStatus.query) 2>/dev/null); [ \"$(printf '%s' \"$s\" | grep -c 'online=\"true\"')\" -ge \(expected) ] && printf '%s' \"$s\" | grep -q 'with_quorum=\"true\"'"
                _ = try await step.run(Shell.waitUntil(quorate, tries: 120, interval: 0.5, failure: "the cluster did not reach quorum with all \(expected) nodes within 60 s"),
                                       on: connection, display: "wait for quorum")
            })

        case "cib-push":
            guard let script = c.file(nil, "pcs-resources.sh") else { return missing(planned, "no rendered pcs-resources.sh") }
            // First time: the rendered script; afterwards: drift against the live CIB, repaired in one push.
            return ClusterConfigStep(host: host, name: planned.name, dependsOn: planned.dependsOn, spec: c.spec,
                                     dialect: c.dialect, createScript: script.content)

        case "verify":
            let rw = c.spec.vips.readWrite.resource, ro = c.spec.vips.readOnly?.resource
            let resource = c.spec.pacemaker.pgsqlResource
            let standbys = c.spec.standbys.map(\.name).sorted()
            let primaryName = c.spec.primary
            let promoted = c.dialect.promotedRole
            let unpromoted = c.dialect.unpromotedRole
            // Streaming is seen from the primary's pg_stat_replication; verify runs on the first
            // primary's host, so it checks streaming when that node is the promoted one.
            let serverState = SharedFacts.pg(c.spec)
            @Sendable func problems(_ xml: String, streaming: String) -> [String] {
                guard let status = CrmMonStatus.parse(xml) else { return ["crm_mon gave no status"] }
                var problems: [String] = []
                let primaries = status.nodes(of: resource, role: promoted)
                if primaries != [primaryName] && primaries.count != 1 { problems.append("\(resource) promoted on \(primaries.isEmpty ? "no node" : primaries.joined(separator: ", "))") }
                let standbyNodes = status.nodes(of: resource, role: unpromoted)
                if standbyNodes.count != standbys.count { problems.append("\(resource) unpromoted on \(standbyNodes.isEmpty ? "no node" : standbyNodes.joined(separator: ", ")), expected \(standbys.count)") }
                if status.nodes(of: rw, role: "Started") != primaries || primaries.isEmpty { problems.append("\(rw) is not with the primary") }
                if let ro, let node = status.nodes(of: ro, role: "Started").first, !standbyNodes.contains(node) { problems.append("\(ro) is not on a standby") }
                if let ro, status.nodes(of: ro, role: "Started").isEmpty { problems.append("\(ro) is not started") }
                for failure in status.failures { problems.append("failed \(failure.operation) on \(failure.node): \(failure.status) \(failure.reason)") }
                if primaries == [host] {
                    let streams = Set(streaming.split(separator: "\n").map(String.init))
                    let idle = standbyNodes.filter { !streams.contains($0) }
                    if !idle.isEmpty { problems.append("\(idle.joined(separator: ", ")) not streaming from \(host)") }
                }
                return problems
            }
            return shell([("crm_mon", "\(CrmMonStatus.query) 2>/dev/null", []), ("pg.streaming-standbys", SharedFacts.pgValue("streaming"), [.pg])], decide: { f in
                let found = problems(f["crm_mon"] ?? "", streaming: f["pg.streaming-standbys"] ?? "")
                return found.isEmpty ? nil : Change(.update, "wait for the cluster: \(found.joined(separator: "; "))")
            }, apply: { step, _, connection in
                // Bounded wait; the re-check after apply reports what is still wrong.
                var last: [String] = []
                for _ in 0..<180 {
                    let xml = try await connection.run(CrmMonStatus.query).stdout
                    // The same query the probe reads (SharedFacts.pg), its "streaming=" lines.
                    let streaming = try await connection.run(serverState.command, stdin: nil).stdout
                        .split(separator: "\n").filter { $0.hasPrefix("streaming=") }.map { $0.dropFirst(10) }.joined(separator: "\n")
                    last = problems(xml, streaming: streaming)
                    if last.isEmpty { return }
                    try await Task.sleep(nanoseconds: 500_000_000)
                }
                throw step.fail("the cluster did not converge within 90 s: \(last.joined(separator: "; "))")
            })

        default:
            return missing(planned, "pgha has no implementation of this step yet")
        }
    }

    static func missing(_ planned: PlannedStep, _ why: String) -> any Step {
        ShellStep(host: planned.host, name: planned.name, dependsOn: planned.dependsOn, probes: [],
                  decision: { _ in throw StepFailure(host: planned.host, step: planned.name, message: why) },
                  action: { _, _, _ in })
    }

    /// Compares a password with a crypt(3) hash from /etc/shadow, without any process seeing it.
    public static func passwordMatches(_ password: String, hash: String) -> Bool {
        guard hash.hasPrefix("$") else { return false }
        // crypt(3) returns a static buffer: one caller at a time.
        cryptLock.lock()
        defer { cryptLock.unlock() }
        guard let result = crypt(password, hash) else { return false }
        return String(cString: result) == hash
    }

    static let cryptLock = NSLock()
}
