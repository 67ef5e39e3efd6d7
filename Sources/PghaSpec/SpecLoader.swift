import Foundation
import Yams

/// What a load produced: the spec (when it had no errors) and every diagnostic, sorted.
public struct LoadResult<T> {
    public var value: T?
    public var diagnostics: [Diagnostic]
}

/// Reads a cluster spec: structure first (types, unknown keys, required values), then the
/// semantic checks a careful DBA would make, all reported in one pass.
public enum SpecLoader {
    public static func load(path: String, displayPath: String? = nil) -> LoadResult<ClusterSpec> {
        let shown = displayPath ?? path
        let (root, problems) = YAMLSource.load(path: path, displayPath: shown)
        guard let root else { return LoadResult(value: nil, diagnostics: problems) }
        return decode(root, file: shown)
    }

    public static func load(yaml: String, file: String) -> LoadResult<ClusterSpec> {
        let (root, problems) = YAMLSource.parse(data: Data(yaml.utf8), file: file)
        guard let root else { return LoadResult(value: nil, diagnostics: problems) }
        return decode(root, file: file)
    }

    static func decode(_ root: Yams.Node, file: String) -> LoadResult<ClusterSpec> {
        let r = NodeReader(file: file)
        r.refuseControlCharacters(root)
        let spec = SpecDecoder(r).decode(root)
        if let spec { SpecValidator(r, spec).validate() }
        let diagnostics = r.diagnostics.sortedByPosition()
        return LoadResult(value: diagnostics.hasErrors ? nil : spec, diagnostics: diagnostics)
    }
}

/// Structure: maps the node tree onto `ClusterSpec`, filling defaults.
struct SpecDecoder {
    let r: NodeReader
    init(_ reader: NodeReader) { r = reader }

    func decode(_ root: Yams.Node) -> ClusterSpec? {
        // The topology decides which sections belong: a section of the other one is an error at
        // its key (and is not read further).
        var root = root
        var topology = Topology.pacemaker
        if case .mapping(let m) = root {
            if let node = m.first(where: { $0.key.string == "topology" })?.value {
                guard let chosen = r.choice(node, "topology", Topology.self) else { return nil }
                topology = chosen
            }
            let other: Set<String> = topology == .pacemaker ? ["pgpool"] : ["vips", "pacemaker"]
            for (key, value) in m where other.contains(key.string ?? "") {
                let hint = topology == .pgpool
                    ? (key.string == "vips" ? "pgpool's delegate VIP is pgpool.delegate_vip" : "pgpool-II's watchdog replaces Pacemaker here")
                    : "it belongs to topology: pgpool (seed 004); add that line to build pgpool-II instead of Pacemaker"
                r.error(key.string ?? "", "only applies to topology \(topology == .pacemaker ? "pgpool" : "pacemaker"); \(hint)", at: key)
                _ = value
            }
            root = .mapping(Yams.Node.Mapping(m.filter { !other.contains($0.key.string ?? "") }, m.tag, m.style, m.mark))
        }
        let own: [String] = topology == .pacemaker ? ["cluster", "nodes", "vips", "postgresql", "replication", "pacemaker"]
            : ["cluster", "nodes", "postgresql", "replication", "pgpool"]
        guard let top = r.mapping(root, "", allowed: own + ["os", "topology"], required: own) else { return nil }
        let cluster = r.mapping(top["cluster"], "cluster", allowed: ["name", "primary"], required: ["name"])
        let name = r.string(cluster?["name"], "cluster.name")
        let nodes = decodeNodes(top["nodes"])
        let primary = r.string(cluster?["primary"], "cluster.primary") ?? nodes?.first?.name
        let replication = decodeReplication(top["replication"])
        let postgresql = decodePostgreSQL(top["postgresql"], mode: replication?.mode ?? .async)
        let os = decodeOS(top["os"])
        var vips: ClusterSpec.VIPs?, pacemaker: ClusterSpec.Pacemaker?, pgpool: PgpoolSpec?
        switch topology {
        case .pacemaker:
            vips = decodeVIPs(top["vips"])
            pacemaker = decodePacemaker(top["pacemaker"])
        case .pgpool:
            if let (section, vip) = decodePgpool(top["pgpool"], postgresql: postgresql) {
                pgpool = section
                vips = ClusterSpec.VIPs(readWrite: vip, readOnly: nil)
            }
            pacemaker = .unused
        }

        guard let name, let nodes, let primary, let vips, let postgresql, let replication, let pacemaker, let os
        else { return nil }
        if topology == .pgpool && pgpool == nil { return nil }
        return ClusterSpec(file: r.file, name: name, topology: topology, nodes: nodes, primary: primary, vips: vips,
                           postgresql: postgresql, replication: replication, pacemaker: pacemaker, pgpool: pgpool, os: os)
    }

    func decodeNodes(_ node: Yams.Node?) -> [ClusterSpec.Node]? {
        guard let items = r.sequence(node, "nodes") else { return nil }
        var result: [ClusterSpec.Node] = []
        var ok = true
        for (i, item) in items.enumerated() {
            let path = "nodes[\(i)]"
            guard let fields = r.mapping(item, path, allowed: ["name", "address", "ring_addresses"],
                                         required: ["name", "address"]),
                  let name = r.string(fields["name"], "\(path).name"),
                  let address = r.string(fields["address"], "\(path).address") else { ok = false; continue }
            let rings = fields.has("ring_addresses") ? r.stringList(fields["ring_addresses"], "\(path).ring_addresses") : []
            result.append(.init(name: name, address: address, ringAddresses: rings ?? []))
        }
        return ok ? result : nil
    }

    func decodeVIPs(_ node: Yams.Node?) -> ClusterSpec.VIPs? {
        guard let fields = r.mapping(node, "vips", allowed: ["read_write", "read_only"], required: ["read_write"]) else { return nil }
        let rw = decodeVIP(fields["read_write"], "vips.read_write", defaults: SeedDefaults.readWriteVIP,
                           operations: SeedDefaults.readWriteVIPOperations, meta: [])
        let ro = fields.has("read_only")
            ? decodeVIP(fields["read_only"], "vips.read_only", defaults: SeedDefaults.readOnlyVIP,
                        operations: SeedDefaults.readOnlyVIPOperations, meta: [("migration-threshold", "0")])
            : nil
        guard let rw else { return nil }
        if fields.has("read_only") && ro == nil { return nil }
        return ClusterSpec.VIPs(readWrite: rw, readOnly: ro)
    }

    func decodeVIP(_ node: Yams.Node?, _ path: String, defaults: (resource: String, group: String, hostname: String),
                   operations: [ClusterSpec.Operation], meta: [(String, String)], pgpool: Bool = false) -> ClusterSpec.VIP? {
        // pgpool's watchdog brings its delegate VIP up itself: no resource, group or operations.
        guard let fields = r.mapping(node, path, allowed: pgpool ? ["ip", "nic", "cidr_netmask", "hostname"]
                                        : ["ip", "nic", "cidr_netmask", "resource", "group", "hostname", "operations"],
                                     required: ["ip", "nic", "cidr_netmask"]),
              let ip = r.string(fields["ip"], "\(path).ip"),
              let nic = r.string(fields["nic"], "\(path).nic"),
              let cidr = r.int(fields["cidr_netmask"], "\(path).cidr_netmask", range: 1...32) else { return nil }
        let ops = decodeOperations(fields["operations"], "\(path).operations", keys: SeedDefaults.vipOperationKeys,
                                   defaults: operations) ?? operations
        return ClusterSpec.VIP(resource: r.string(fields["resource"], "\(path).resource") ?? defaults.resource,
                               ip: ip, nic: nic, cidrNetmask: cidr,
                               hostname: r.string(fields["hostname"], "\(path).hostname") ?? defaults.hostname,
                               group: r.string(fields["group"], "\(path).group") ?? defaults.group,
                               operations: ops, meta: meta)
    }

    /// `operations: {monitor: {timeout: 30s}}` overrides single fields of the seed's operations.
    func decodeOperations(_ node: Yams.Node?, _ path: String, keys: [String],
                          defaults: [ClusterSpec.Operation]) -> [ClusterSpec.Operation]? {
        guard let fields = r.mapping(node, path, allowed: keys) else { return nil }
        var result = defaults
        for key in fields.order {
            let opPath = "\(path).\(key)"
            guard let op = r.mapping(fields[key], opPath, allowed: ["timeout", "interval", "on_fail"]) else { continue }
            let (name, role) = key == "monitor_promoted" ? ("monitor", "promoted") : (key, nil as String?)
            guard let index = result.firstIndex(where: { $0.name == name && $0.role == role }) else { continue }
            for field in ["timeout", "interval"] where op.has(field) {
                guard let value = r.string(op[field], "\(opPath).\(field)") else { continue }
                if !Grammar.matches(value, Grammar.duration) {
                    r.error("\(opPath).\(field)", "'\(value)' is not a duration like 60s, 500ms, 2min", at: op[field])
                } else if field == "timeout" { result[index].timeout = value } else { result[index].interval = value }
            }
            if op.has("on_fail") {
                let allowed = Grammar.onFailPolicies
                if let value = r.string(op["on_fail"], "\(opPath).on_fail") {
                    if allowed.contains(value) { result[index].onFail = value } else {
                        let hint = closestMatch(value, in: allowed).map { "; did you mean '\($0)'?" } ?? ""
                        r.error("\(opPath).on_fail", "'\(value)' is not one of \(allowed.joined(separator: ", "))\(hint)", at: op["on_fail"])
                    }
                }
            }
        }
        return result
    }

    func decodePostgreSQL(_ node: Yams.Node?, mode: ClusterSpec.ReplicationMode) -> ClusterSpec.PostgreSQL? {
        let path = "postgresql"
        guard let f = r.mapping(node, path, allowed: ["version", "install", "bin_dir", "data_dir", "archive_dir",
                                                      "backup_dir", "port", "os_user", "initdb_options", "profile",
                                                      "settings", "hba", "environment"],
                                required: ["version", "install", "data_dir"]) else { return nil }
        guard let version = r.int(f["version"], "postgresql.version") else { return nil }
        // A bad port is reported and replaced by the default so the checks below still run.
        let port: Int? = (f.has("port") ? r.int(f["port"], "postgresql.port", range: 1...65535) : nil) ?? 5432
        guard let install = decodeInstall(f["install"], version: version) else { return nil }

        let userFields = r.mapping(f["os_user"], "postgresql.os_user", allowed: ["name", "group", "uid", "gid", "home"])
        let userName = r.string(userFields?["name"], "postgresql.os_user.name") ?? "postgres"
        let osUser = ClusterSpec.OSUser(
            name: userName,
            group: r.string(userFields?["group"], "postgresql.os_user.group") ?? userName,
            uid: r.int(userFields?["uid"], "postgresql.os_user.uid", range: 1...2_147_483_647),
            gid: r.int(userFields?["gid"], "postgresql.os_user.gid", range: 1...2_147_483_647),
            home: r.string(userFields?["home"], "postgresql.os_user.home")
                ?? SeedDefaults.home(method: install.method, distribution: install.distribution, user: userName))

        guard let dataDir = r.string(f["data_dir"], "postgresql.data_dir") else { return nil }
        let archiveDir = r.string(f["archive_dir"], "postgresql.archive_dir")
        let binDir = r.string(f["bin_dir"], "postgresql.bin_dir")
            ?? (install.method == .source ? "\(install.prefix ?? "/usr/local/pgsql")/bin"
                : SeedDefaults.binDir(distribution: install.distribution, version: version))

        let profileName = f.has("profile") ? r.string(f["profile"], "postgresql.profile") : "seed"
        var settings: [(key: String, value: String)] = []
        switch profileName {
        case "seed": settings = SeedDefaults.settings(version: version, port: port ?? 5432, archiveDir: archiveDir, mode: mode)
            + [("wal_receiver_timeout", PghaDefaults.walReceiverTimeout)]
        case "minimal": settings = [("listen_addresses", "*"), ("port", String(port ?? 5432)), ("wal_receiver_timeout", PghaDefaults.walReceiverTimeout)]
        case nil: break
        case let other?: r.error("postgresql.profile", "'\(other)' is not one of seed, minimal", at: f["profile"])
        }
        // A setting given as null is not written: PostgreSQL's own default applies.
        let unset = r.nullKeys(f["settings"])
        for (key, value) in r.scalarMap(f["settings"], "postgresql.settings") ?? [] where !unset.contains(key) {
            if let index = settings.firstIndex(where: { $0.key == key }) { settings[index].value = value }
            else { settings.append((key, value)) }
        }
        settings.removeAll { unset.contains($0.key) }

        var hba: [ClusterSpec.HBARule] = []
        for (i, item) in (r.sequence(f["hba"], "postgresql.hba") ?? []).enumerated() {
            let p = "postgresql.hba[\(i)]"
            guard let rule = r.mapping(item, p, allowed: ["type", "database", "user", "address", "method"],
                                       required: ["type", "database", "user", "method"]),
                  let type = r.string(rule["type"], "\(p).type"),
                  let database = r.string(rule["database"], "\(p).database"),
                  let user = r.string(rule["user"], "\(p).user"),
                  let method = r.string(rule["method"], "\(p).method") else { continue }
            hba.append(.init(type: type, database: database, user: user,
                             address: r.string(rule["address"], "\(p).address"), method: method))
        }
        let environment = r.scalarMap(f["environment"], "postgresql.environment") ?? []
        let initdbOptions = f.has("initdb_options") ? r.stringList(f["initdb_options"], "postgresql.initdb_options") ?? [] : ["--data-checksums"]
        guard let port else { return nil }
        return ClusterSpec.PostgreSQL(version: version, install: install, binDir: binDir, dataDir: dataDir,
                                      archiveDir: archiveDir,
                                      backupDir: r.string(f["backup_dir"], "postgresql.backup_dir"),
                                      port: port, osUser: osUser, initdbOptions: initdbOptions,
                                      settings: settings, hba: hba, environment: environment)
    }

    func decodeInstall(_ node: Yams.Node?, version: Int) -> ClusterSpec.Install? {
        let path = "postgresql.install"
        guard let f = r.mapping(node, path, allowed: ["method", "distribution", "packages", "tarball", "source_version",
                                                      "prefix", "configure_flags", "build_packages"],
                                required: ["method"]),
              let method = r.choice(f["method"], "\(path).method", ClusterSpec.InstallMethod.self) else { return nil }
        let distribution = f.has("distribution") ? r.choice(f["distribution"], "\(path).distribution", ClusterSpec.Distribution.self) : .pgdg
        guard let distribution else { return nil }
        var install = ClusterSpec.Install(method: method, distribution: distribution, packages: [], tarball: nil,
                                          sourceVersion: nil, prefix: nil, configureFlags: [], buildPackages: [])
        switch method {
        case .package:
            for key in ["tarball", "source_version", "prefix", "configure_flags", "build_packages"] where f.has(key) {
                r.error(f.path(key), "only applies to method 'source'", at: f[key])
            }
            install.packages = f.has("packages") ? r.stringList(f["packages"], "\(path).packages") ?? []
                : SeedDefaults.packages(distribution: distribution, version: version)
        case .source:
            for key in ["packages", "distribution"] where f.has(key) {
                r.error(f.path(key), "only applies to method 'package'", at: f[key])
            }
            if !f.has("tarball") { r.error(path, "method 'source' needs 'tarball' (the PostgreSQL source tarball on this machine)", at: f.node) }
            if !f.has("prefix") { r.error(path, "method 'source' needs 'prefix' (the install directory, e.g. /opt/pg1110)", at: f.node) }
            install.tarball = r.string(f["tarball"], "\(path).tarball")
            install.prefix = r.string(f["prefix"], "\(path).prefix")
            install.sourceVersion = r.string(f["source_version"], "\(path).source_version")
                ?? install.tarball.flatMap(Self.versionFromTarball)
            install.configureFlags = r.stringList(f["configure_flags"], "\(path).configure_flags") ?? []
            install.buildPackages = f.has("build_packages") ? r.stringList(f["build_packages"], "\(path).build_packages") ?? [] : SeedDefaults.buildPackages
        }
        return install
    }

    /// The version in a source tarball's name: upstream's "postgresql-11.10.tar.gz" → "11.10", or
    /// Debian's orig tarball of its postgresql-V source package, "postgresql-15_15.20.orig.tar.bz2" → "15.20".
    static func versionFromTarball(_ path: String) -> String? {
        let name = (path as NSString).lastPathComponent
        let pattern = #"^postgresql-(?:([0-9]+)_)?([0-9]+(?:\.[0-9]+)*)(?:\.orig)?\.(?:tar\.gz|tgz|tar\.bz2|tar\.xz)$"#
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)),
              let versionRange = Range(match.range(at: 2), in: name) else { return nil }
        let version = String(name[versionRange])
        // Debian's name repeats the major version: postgresql-15_15.20; both must agree.
        if let majorRange = Range(match.range(at: 1), in: name), version.split(separator: ".").first.map(String.init) != String(name[majorRange]) {
            return nil
        }
        return version
    }

    func decodeReplication(_ node: Yams.Node?) -> ClusterSpec.Replication? {
        let path = "replication"
        guard let f = r.mapping(node, path, allowed: ["user", "password", "mode", "conninfo_options"],
                                required: ["password"]) else { return nil }
        let mode = f.has("mode") ? r.choice(f["mode"], "\(path).mode", ClusterSpec.ReplicationMode.self) : .async
        let password = r.secret(f["password"], "\(path).password", suggestedEnv: "PGHA_REPLICATION_PASSWORD")
        var options = SeedDefaults.conninfoOptions
        for (key, value) in r.scalarMap(f["conninfo_options"], "\(path).conninfo_options") ?? [] {
            if key == "password" {
                r.error("\(path).conninfo_options.password", "the password comes from replication.password and is written to ~/.pgpass, never into the CIB; remove it here")
                continue
            }
            if let i = options.firstIndex(where: { $0.key == key }) { options[i].value = value } else { options.append((key, value)) }
        }
        guard let mode, let password else { return nil }
        return .init(user: r.string(f["user"], "\(path).user") ?? "repluser", password: password, mode: mode,
                     conninfoOptions: options)
    }

    func decodePacemaker(_ node: Yams.Node?) -> ClusterSpec.Pacemaker? {
        let path = "pacemaker"
        guard let f = r.mapping(node, path, allowed: ["pcs_dialect", "hacluster_password", "last_man_standing",
                                                      "properties", "resource_defaults", "pgsql", "fencing",
                                                      "acknowledge", "enable_at_boot", "resources", "constraints"],
                                required: ["hacluster_password"]) else { return nil }
        let dialect = f.has("pcs_dialect") ? r.choice(f["pcs_dialect"], "\(path).pcs_dialect", ClusterSpec.PcsDialect.self) : nil
        let password = r.secret(f["hacluster_password"], "\(path).hacluster_password", suggestedEnv: "PGHA_HACLUSTER_PASSWORD")

        // A property given as null is not managed: Pacemaker's own default (or whatever is set) applies.
        var properties = PghaDefaults.properties
        let unmanaged = r.nullKeys(f["properties"])
        for (key, value) in r.scalarMap(f["properties"], "\(path).properties") ?? [] where !unmanaged.contains(key) {
            if let i = properties.firstIndex(where: { $0.key == key }) { properties[i].value = value } else { properties.append((key, value)) }
        }
        properties.removeAll { unmanaged.contains($0.key) }
        var defaults = SeedDefaults.resourceDefaults
        for (key, value) in r.scalarMap(f["resource_defaults"], "\(path).resource_defaults") ?? [] {
            if let i = defaults.firstIndex(where: { $0.key == key }) { defaults[i].value = value } else { defaults.append((key, value)) }
        }

        let pgsql = r.mapping(f["pgsql"], "\(path).pgsql", allowed: ["resource", "clone", "restart_on_promote", "xlog_check_count", "tmpdir",
                                                                     "operations", "clone_options"])
        let cloneFields = r.mapping(pgsql?["clone_options"], "\(path).pgsql.clone_options",
                                    allowed: ["promoted_max", "promoted_node_max", "clone_max", "clone_node_max", "notify"])
        let d = SeedDefaults.clone
        let cp = "\(path).pgsql.clone_options"
        let clone = ClusterSpec.CloneOptions(
            promotedMax: r.int(cloneFields?["promoted_max"], "\(cp).promoted_max", range: 1...1) ?? d.promotedMax,
            promotedNodeMax: r.int(cloneFields?["promoted_node_max"], "\(cp).promoted_node_max", range: 1...1) ?? d.promotedNodeMax,
            cloneMax: r.int(cloneFields?["clone_max"], "\(cp).clone_max", range: 1...64) ?? d.cloneMax,
            cloneNodeMax: r.int(cloneFields?["clone_node_max"], "\(cp).clone_node_max", range: 1...1) ?? d.cloneNodeMax,
            notify: r.bool(cloneFields?["notify"], "\(cp).notify") ?? d.notify)
        let operations = decodeOperations(pgsql?["operations"], "\(path).pgsql.operations",
                                          keys: SeedDefaults.pgsqlOperationKeys,
                                          defaults: PghaDefaults.pgsqlOperations) ?? PghaDefaults.pgsqlOperations

        var fencing: [ClusterSpec.FencingDevice] = []
        for (i, item) in (r.sequence(f["fencing"], "\(path).fencing") ?? []).enumerated() {
            let p = "\(path).fencing[\(i)]"
            guard let device = r.mapping(item, p, allowed: ["name", "type", "parameters"], required: ["name", "type"]),
                  let name = r.string(device["name"], "\(p).name"), let type = r.string(device["type"], "\(p).type")
            else { continue }
            let parameters = r.scalarMap(device["parameters"], "\(p).parameters") ?? []
            for (key, _) in parameters where Grammar.namesASecret(key) {
                r.error("\(p).parameters.\(key)", "'\(key)' carries a secret, and a fencing device's parameters are stored in the CIB in clear text (on every node, in cibadmin --query and crm_report); use the agent's script or file parameter instead (e.g. password_script: a script on each node that prints it)")
            }
            fencing.append(.init(name: name, type: type, parameters: parameters))
        }

        var acknowledgements: [ClusterSpec.Acknowledgement] = []
        for (i, item) in (r.sequence(f["acknowledge"], "\(path).acknowledge") ?? []).enumerated() {
            if let ack = r.choice(item, "\(path).acknowledge[\(i)]", ClusterSpec.Acknowledgement.self) { acknowledgements.append(ack) }
        }
        guard let password else { return nil }
        return ClusterSpec.Pacemaker(
            pcsDialect: dialect ?? nil, haclusterPassword: password,
            lastManStanding: r.bool(f["last_man_standing"], "\(path).last_man_standing") ?? false,
            properties: properties, resourceDefaults: defaults,
            pgsqlResource: r.string(pgsql?["resource"], "\(path).pgsql.resource") ?? SeedDefaults.pgsqlResource,
            pgsqlClone: r.string(pgsql?["clone"], "\(path).pgsql.clone") ?? SeedDefaults.pgsqlClone,
            restartOnPromote: r.bool(pgsql?["restart_on_promote"], "\(path).pgsql.restart_on_promote") ?? false,
            // null: not passed, the agent's own default (3).
            xlogCheckCount: pgsql?.isNull("xlog_check_count") == true ? nil
                : r.int(pgsql?["xlog_check_count"], "\(path).pgsql.xlog_check_count", range: 1...10) ?? PghaDefaults.xlogCheckCount,
            tmpdir: r.string(pgsql?["tmpdir"], "\(path).pgsql.tmpdir"),
            operations: operations, clone: clone, fencing: fencing, acknowledgements: acknowledgements,
            enableAtBoot: r.bool(f["enable_at_boot"], "\(path).enable_at_boot") ?? true,
            resources: decodeResources(f["resources"], "\(path).resources"),
            constraints: decodeConstraints(f["constraints"], "\(path).constraints"))
    }

    func decodeOS(_ node: Yams.Node?) -> ClusterSpec.OSPreparation? {
        let path = "os"
        let defaults = ClusterSpec.OSPreparation(manageHostsFile: true, extraHosts: [], firewall: .disabled,
                                                 selinux: .disabled, timeSync: .none, timeServers: [])
        guard let node else { return defaults }
        guard let f = r.mapping(node, path, allowed: ["hosts_file", "firewall", "selinux", "time_sync"]) else { return nil }
        var os = defaults
        if let hosts = r.mapping(f["hosts_file"], "\(path).hosts_file", allowed: ["manage", "extra"]) {
            os.manageHostsFile = r.bool(hosts["manage"], "\(path).hosts_file.manage") ?? true
            for (i, item) in (r.sequence(hosts["extra"], "\(path).hosts_file.extra") ?? []).enumerated() {
                let p = "\(path).hosts_file.extra[\(i)]"
                guard let entry = r.mapping(item, p, allowed: ["ip", "names"], required: ["ip", "names"]),
                      let ip = r.string(entry["ip"], "\(p).ip"), let names = r.stringList(entry["names"], "\(p).names")
                else { continue }
                os.extraHosts.append(.init(ip: ip, names: names))
            }
        }
        if f.has("firewall") { os.firewall = r.choice(f["firewall"], "\(path).firewall", ClusterSpec.Firewall.self) ?? os.firewall }
        if f.has("selinux") { os.selinux = r.choice(f["selinux"], "\(path).selinux", ClusterSpec.SELinux.self) ?? os.selinux }
        if let time = r.mapping(f["time_sync"], "\(path).time_sync", allowed: ["service", "servers"]) {
            os.timeSync = r.choice(time["service"], "\(path).time_sync.service", ClusterSpec.TimeSyncService.self) ?? .none
            os.timeServers = r.stringList(time["servers"], "\(path).time_sync.servers") ?? []
        }
        return os
    }
}
