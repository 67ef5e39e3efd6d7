import Foundation
import PghaShell
import PghaSpec

/// Debian creates and starts a "main" cluster with the server package; on our port it would
/// take the place of ours. A pristine one (no user databases, no tables) is stopped and set to
/// manual start; one that holds data is never touched.
public struct DistributionClusterStep: Step {
    public let host: String
    public let name = "distribution-cluster"
    public var dependsOn: [String] = []
    let version: Int
    let port: Int
    let dataDir: String

    /// One cluster of the distribution's, as the probe prints it.
    public struct Cluster: Equatable, Sendable {
        public var name: String
        public var port: String
        public var online: Bool
        public var startMode: String
        /// User databases + user tables, or "unknown".
        public var used: String
    }

    public init(host: String, spec: ClusterSpec) {
        self.host = host
        self.version = spec.postgresql.version
        self.port = spec.postgresql.port
        self.dataDir = spec.postgresql.dataDir
    }

    public var summary: String {
        "stop and disable Debian's auto-created PostgreSQL \(version) cluster if it is pristine and in the way (a cluster that holds data is never touched)"
    }

    // Read from /etc/postgresql (pg_lsclusters is perl: 40 ms of a host's CPU per plan).
    var clusters: Probe<[Cluster]> {
        Probe(name, """
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
            """) { [port] text in
            text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
                .filter { $0.count == 5 && $0[1] == String(port) }
                .map { Cluster(name: $0[0], port: $0[1], online: $0[2] == "online", startMode: $0[3], used: $0[4]) }
        }
    }

    /// Cluster names come from the host: only a plain directory name is acted on.
    static func plainName(_ name: String) -> Bool {
        name.range(of: "^[A-Za-z0-9_][A-Za-z0-9_.-]*$", options: .regularExpression) != nil
    }

    public func probe(_ script: inout FactScript) { script.add(clusters) }

    public func decide(_ facts: Facts) throws -> Change? {
        var actions: [String] = []
        for cluster in facts[clusters] {
            guard Self.plainName(cluster.name) else {
                throw fail("the distribution's PostgreSQL cluster directory under /etc/postgresql/\(version) has a name pgha does not act on (\(quote(cluster.name))); stop it yourself, then re-run")
            }
            guard cluster.online || cluster.startMode == "auto" else { continue }
            guard cluster.used == "0" else {
                throw fail("the distribution's PostgreSQL cluster \(version)/\(cluster.name) on port \(port) holds data (\(cluster.used) user databases/tables); pgha will not stop it. Move it to another port or remove it yourself, then re-run")
            }
            actions.append("stop \(version)/\(cluster.name) (pristine) and set it to manual start")
        }
        return actions.isEmpty ? nil : Change(.update, actions.joined(separator: "; "))
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        for cluster in facts[clusters] where Self.plainName(cluster.name) {
            // /etc/postgresql/VERSION/NAME belongs to postgres on Debian: written without following a link.
            let startConf = "/etc/postgresql/\(version)/\(cluster.name)/start.conf"
            _ = try await run("\(Command("pg_ctlcluster", String(version), cluster.name, "stop")) 2>/dev/null || true", on: connection)
            _ = try await run(SafePaths.write(startConf, Data("manual\n".utf8), mode: 0o644, owner: "postgres", group: "postgres"), on: connection,
                              display: "echo manual > \(startConf)")
        }
    }
}

/// The PostgreSQL OS user and group, with the spec's uid/gid when it names them; existing ones
/// are never renumbered.
public struct OSUserStep: Step {
    public let host: String
    public let name = "os-user"
    public var dependsOn: [String] = []
    let user: ClusterSpec.OSUser
    let createdByPackage: Bool

    public struct Entry: Equatable, Sendable {
        /// The group's gid, the user's uid; nil when absent.
        public var gid: String?
        public var uid: String?
    }

    public init(host: String, spec: ClusterSpec) {
        self.host = host
        self.user = spec.postgresql.osUser
        self.createdByPackage = spec.postgresql.install.method == .package
    }

    public var summary: String {
        var text = "group \(user.group)\(user.gid.map { " (gid \($0))" } ?? ""), user \(user.name)\(user.uid.map { " (uid \($0))" } ?? ""), home \(user.home)"
        if createdByPackage { text += " (created by the package when absent)" }
        return text
    }

    var entry: Probe<Entry> {
        Probe(name, "echo group=$(getent group \(user.group) | cut -d: -f3); echo user=$(getent passwd \(user.name) | cut -d: -f3,6)") { text in
            let values = keyValueLines(text)
            func nonEmpty(_ s: String?) -> String? { s.flatMap { $0.isEmpty ? nil : $0 } }
            return Entry(gid: nonEmpty(values["group"]), uid: nonEmpty(values["user"]).map { String($0.prefix { $0 != ":" }) })
        }
    }

    public func probe(_ script: inout FactScript) { script.add(entry) }

    public func decide(_ facts: Facts) throws -> Change? {
        let found = facts[entry]
        var missing: [String] = []
        if found.gid == nil { missing.append("group \(user.group)") }
        if found.uid == nil { missing.append("user \(user.name)") }
        if !missing.isEmpty { return Change(.create, "create \(missing.joined(separator: ", "))") }
        if let want = user.gid, found.gid != String(want) {
            throw fail("group \(user.group) has gid \(found.gid ?? ""), the spec says \(want); pgha does not renumber existing groups")
        }
        if let want = user.uid, found.uid != String(want) {
            throw fail("user \(user.name) has uid \(found.uid ?? ""), the spec says \(want); pgha does not renumber existing users")
        }
        return nil
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        let groupadd = Command(["groupadd"] + (user.gid.map { ["-g", String($0)] } ?? []) + [user.group])
        let useradd = Command(["useradd", "-m", "-d", user.home, "-g", user.group] + (user.uid.map { ["-u", String($0)] } ?? []) + ["-s", "/bin/bash", user.name])
        _ = try await run("getent group \(user.group) >/dev/null || \(groupadd); getent passwd \(user.name) >/dev/null || \(useradd)", on: connection)
    }
}

/// The data, archive, backup and agent tmp directories (0700) and the user's home, owned by
/// the PostgreSQL user.
public struct DirectoriesStep: Step {
    public let host: String
    public let name = "directories"
    public var dependsOn: [String] = []
    let user: ClusterSpec.OSUser
    /// 0700 directories, then the home (its mode is the host's).
    let private0700: [String]

    public init(host: String, spec: ClusterSpec) {
        self.host = host
        let pg = spec.postgresql
        self.user = pg.osUser
        // Topology pgpool: ~/.ssh for the key and known_hosts of pgpool's scripts.
        self.private0700 = [pg.dataDir] + [pg.archiveDir, pg.backupDir, spec.pacemaker.tmpdir].compactMap { $0 }
            + (spec.topology == .pgpool ? [pg.osUser.home + "/.ssh"] : [])
    }

    var all: [String] { private0700 + [user.home] }

    public var summary: String {
        "create owned by \(user.name):\(user.group): \(private0700.map { "\($0) 0700" }.joined(separator: ", "))"
    }

    /// Per directory: mode, owner, group and file type (stat of the path itself: a link shows
    /// as "symbolic link"), or nil when absent.
    var state: Probe<[String: (mode: String, owner: String, group: String, type: String)?]> {
        Probe(name, Shell.join(all.map { dir in
            let absent: String = dir + " absent"
            return "stat -c '%n %a %U %G %F' \(dir) 2>/dev/null || echo \(absent)"
        })) { text in
            var found: [String: (mode: String, owner: String, group: String, type: String)?] = [:]
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ").map(String.init)
                if fields.count == 2 { found[fields[0]] = .some(nil) }
                if fields.count >= 5 { found[fields[0]] = (fields[1], fields[2], fields[3], fields[4...].joined(separator: " ")) }
            }
            return found
        }
    }

    public func probe(_ script: inout FactScript) { script.add(state) }

    public func decide(_ facts: Facts) throws -> Change? {
        let found = facts[state]
        var wrong: [String] = []
        for path in all {
            guard let entry = found[path] else { continue }
            guard let entry else { wrong.append("create \(path)"); continue }
            if entry.type == "symbolic link" {
                throw fail("\(path) is a symbolic link (owned by \(entry.owner)); pgha never changes owners or modes through one as root: replace it with the directory itself, then re-run")
            }
            if entry.type != "directory" { throw fail("\(path) is a \(entry.type), not a directory; move it away, then re-run") }
            let mode = path == user.home ? nil : "700"
            if entry.owner != user.name || entry.group != user.group || (mode != nil && entry.mode != mode) {
                wrong.append("\(path) \(entry.mode) \(entry.owner):\(entry.group) → \(mode ?? entry.mode) \(user.name):\(user.group)")
            }
        }
        return wrong.isEmpty ? nil : Change(wrong.allSatisfy { $0.hasPrefix("create") } ? .create : .update, wrong.joined(separator: "; "))
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        // Created and changed through descriptors, never through a link (SafePaths).
        for dir in all {
            _ = try await run(SafePaths.directory(dir, mode: dir == user.home ? nil : 0o700, owner: user.name, group: user.group), on: connection,
                              display: "mkdir \(dir), owned by \(user.name):\(user.group)\(dir == user.home ? "" : ", 0700")")
        }
    }
}
