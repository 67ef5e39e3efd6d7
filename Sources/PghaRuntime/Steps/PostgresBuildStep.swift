import Foundation
import PghaShell
import PghaSpec

/// PostgreSQL built from the spec's tarball (seed 000 §5.2): configure, make, make -C contrib,
/// install, owned by the PostgreSQL user. The decision is SourceBuild.decide; the build runs
/// detached on the host, so it outlasts any per-command limit, and is polled until it ends.
public struct PostgresBuildStep: Step {
    public let host: String
    public let name = "postgresql-build"
    public var dependsOn: [String] = []
    let pg: ClusterSpec.PostgreSQL
    let prefix: String
    let tarball: String
    let version: String

    public init(host: String, spec: ClusterSpec) throws {
        let pg = spec.postgresql
        guard let prefix = pg.install.prefix, let tarball = pg.install.tarball, let version = pg.install.sourceVersion else {
            throw CatalogError("\(host)/postgresql-build: the spec's source install names no prefix, tarball or source_version")
        }
        self.host = host
        self.pg = pg
        self.prefix = prefix
        self.tarball = tarball
        self.version = version
    }

    var directory: String { SourceBuild.buildDirectory(version: version) }
    var user: String { pg.osUser.name }
    var group: String { pg.osUser.group }
    var installed: Probe<SourceBuild.Installed> {
        Probe(name, SourceBuild.probe(prefix: prefix, buildDirectory: directory)) { SourceBuild.Installed($0) }
    }

    public var summary: String {
        "upload \(tarball), configure --prefix=\(prefix)\(pg.install.configureFlags.map { " " + $0 }.joined()), make, make -C contrib, install, owned by \(user):\(group) (only if \(prefix)/bin/postgres is not \(version) or was configured otherwise)"
    }

    public func probe(_ script: inout FactScript) { script.add(installed) }

    func decision(_ facts: Facts) throws -> (work: SourceBuild.Work, change: Change)? {
        let installed = facts[installed]
        if let pid = installed.building {
            throw fail("a build is still running in \(directory) (pid \(pid)); wait for it to end or stop it, then re-run")
        }
        let found = SourceBuild.decide(installed, version: version, prefix: prefix, flags: pg.install.configureFlags,
                                       tarball: tarball, user: user, group: group)
        if let found, found.work == .build, !FileManager.default.isReadableFile(atPath: tarball) {
            throw fail("\(found.change.summary), but the tarball \(tarball) is not readable on this machine")
        }
        return found
    }

    public func decide(_ facts: Facts) throws -> Change? { try decision(facts)?.change }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        guard let work = try decision(facts)?.work else { return }
        if work == .ownership {
            _ = try await run(Shell.all([Command("chown", "-R", user + ":" + group, prefix).shell, Command("chmod", "755", prefix).shell]), on: connection)
            return
        }
        let dir = directory
        _ = try await run(Shell.all([Command("rm", "-rf", dir).shell, Command("mkdir", "-p", dir).shell, Command("chmod", "700", dir).shell]), on: connection)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tarball), options: .mappedIfSafe)
        let tarballName = (tarball as NSString).lastPathComponent
        try await connection.upload(bytes, to: "\(dir)/\(tarballName)", mode: 0o644, owner: "root", group: "root")
        let script = SourceBuild.script(tarballName: tarballName, prefix: prefix, flags: pg.install.configureFlags, user: user, group: group)
        try await connection.upload(Data(script.utf8), to: "\(dir)/build.sh", mode: 0o755, owner: "root", group: "root")
        // Detached (its own session): a build outlasts the transport's per-command limit.
        _ = try await run("cd \(dir) && { setsid sh -c 'sh ./build.sh > build.log 2>&1; echo $? > build.rc' < /dev/null > /dev/null 2>&1 & echo $! > build.pid; }",
                          on: connection, display: "\(dir)/build.sh (detached; output in build.log)")
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
            state = try await run(poll, on: connection, display: "wait for the build").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if state == "rc=0" {
            _ = try await run(Command("rm", "-rf", dir), on: connection)
            return
        }
        let log = (try? await connection.run(Command("tail", "-n", "25", dir + "/build.log")).stdout) ?? ""
        let how = state == "timeout" ? "did not finish within \(SourceBuild.buildTimeLimit / 60) minutes and was stopped"
            : state == "vanished" ? "stopped without an exit status (killed?)" : "failed (exit \(state.dropFirst(3)))"
        throw fail("the build of PostgreSQL \(version) \(how) after \(Int((ContinuousClock.now - started).components.seconds)) s; \(dir) is kept. Last lines of build.log:\n\(log.trimmingCharacters(in: .newlines))")
    }
}
