import PghaSpec
import PghaRender

/// One step of a bootstrap: where it runs, what it does, and what must be done first
/// (on the same host or, for barriers such as "standbys clone after the primary accepts
/// replication", on another).
public struct PlannedStep: Equatable, Sendable, Encodable {
    public var host: String
    public var name: String
    public var summary: String
    public var details: [String]
    public var dependsOn: [String]
    public var id: String { "\(host)/\(name)" }
}

/// The ordered steps that turn bare hosts into the cluster of seeds 000/001, without
/// contacting any host. The live planner (next) prunes what the facts show is already done.
public struct BootstrapPlan {
    public let spec: ClusterSpec
    public let dialect: ClusterSpec.PcsDialect
    public private(set) var steps: [PlannedStep] = []

    public init(spec: ClusterSpec, dialect: ClusterSpec.PcsDialect) {
        self.spec = spec
        self.dialect = dialect
        build()
    }

    var pg: ClusterSpec.PostgreSQL { spec.postgresql }
    var primary: String { spec.primary }

    mutating func add(_ host: String, _ name: String, _ summary: String, _ details: [String] = [], after: [String] = []) {
        let previous = steps.last(where: { $0.host == host }).map { [$0.id] } ?? []
        steps.append(PlannedStep(host: host, name: name, summary: summary, details: details,
                                 dependsOn: previous + after.filter { !previous.contains($0) }))
    }

    mutating func build() {
        let everyone = spec.nodes.map(\.name)
        for node in spec.nodes { osAndPackages(node) }
        // Primary first: initdb, configuration, start, replication role.
        let dataDir = pg.dataDir
        add(primary, "initdb", "initdb \(dataDir) as \(pg.osUser.name) (only if the directory is absent or empty)",
            ["options: \(pg.initdbOptions.isEmpty ? "(none)" : pg.initdbOptions.joined(separator: " "))",
             "a data directory that holds data is never initialised over"])
        add(primary, "postgresql-conf", "write \(dataDir)/postgresql.conf (\(pg.settings.count) settings)")
        add(primary, "pg-hba", "write \(dataDir)/pg_hba.conf (\(pg.hba.count + spec.nodes.count + 1) rules)")
        add(primary, "start-primary", "start PostgreSQL \(pg.version) on port \(pg.port) with pg_ctl (handed to Pacemaker later)")
        add(primary, "replication-user", "create role \(spec.replication.user) with REPLICATION LOGIN; password from \(spec.replication.password) (sensitive, sent on stdin)")
        for standby in spec.standbys {
            add(standby.name, "basebackup",
                "pg_basebackup from \(primary) (\(spec.node(named: primary)?.address ?? "")) into \(dataDir) as \(spec.replication.user), without -R",
                ["only into an absent or empty data directory; a non-empty one stops the step and names --rebuild \(standby.name)"],
                after: ["\(primary)/replication-user"])
            add(standby.name, "postgresql-conf", "write \(dataDir)/postgresql.conf (same as the primary's)")
            add(standby.name, "pg-hba", "write \(dataDir)/pg_hba.conf (same as the primary's)")
            add(standby.name, "verify-streaming", "start as a standby and wait until its WAL receiver streams from \(primary)")
            add(standby.name, "stop-standby", "stop PostgreSQL: from here on Pacemaker runs it")
        }
        add(primary, "stop-primary", "stop PostgreSQL on the primary after every standby streamed",
            after: spec.standbys.map { "\($0.name)/stop-standby" })

        for node in everyone {
            add(node, "hacluster-password", "set the hacluster password with chpasswd over stdin (from \(spec.pacemaker.haclusterPassword), sensitive)")
            add(node, "pcsd", "start and enable pcsd, wait for port 2224")
            add(node, "corosync-default", "remove the distribution's default corosync.conf only if no cluster of ours is configured")
            add(node, "pgsql-agent-fix", "patch resource-agents' ocf-shellfuncs where it calls 'crm_attribute -p' (Debian 12 bug), if present")
        }
        let pcs = PcsCommands(spec: spec, dialect: dialect)
        add(primary, "pcs-auth", pcs.authCommand().arguments.joined(separator: " ") + "  (password on stdin)",
            after: everyone.map { "\($0)/pcsd" } + everyone.map { "\($0)/corosync-default" })
        add(primary, "cluster-setup", pcs.clusterSetupCommand().arguments.joined(separator: " "))
        add(primary, "cluster-start", "pcs cluster start --all\(spec.pacemaker.enableAtBoot ? "; pcs cluster enable --all" : ""); wait for quorum")
        let offline = pcs.resourceCommands().filter { $0.arguments.starts(with: ["pcs", "-f"]) }.count
        add(primary, "cib-push", "build the CIB offline (\(offline) pcs -f commands, cluster/pcs-resources.sh) and push it once",
            resourceSummary(),
            after: spec.nodes.map { $0.name == primary ? "\(primary)/stop-primary" : "\($0.name)/stop-standby" }
                + everyone.map { "\($0)/pgsql-agent-fix" })
        var verify = "wait until \(spec.pacemaker.pgsqlClone) is promoted on \(primary), unpromoted on \(spec.standbys.map(\.name).joined(separator: ", ")), \(spec.vips.readWrite.ip) on \(primary)"
        if let ro = spec.vips.readOnly { verify += ", \(ro.ip) on a standby" }
        add(primary, "verify", verify)
    }

    mutating func osAndPackages(_ node: ClusterSpec.Node) {
        let host = node.name
        let os = spec.os
        if os.manageHostsFile {
            let count = spec.nodes.count + 1 + (spec.vips.readOnly == nil ? 0 : 1) + os.extraHosts.count
            add(host, "hosts-file", "manage the pgha block in /etc/hosts (\(count) entries; other lines untouched)")
        }
        switch os.firewall {
        case .disabled: add(host, "firewall", "stop and disable the firewall (firewalld/ufw)")
        case .open: add(host, "firewall", "open tcp \(pg.port), tcp 2224 (pcsd), udp 5404-5406 (corosync)")
        case .unmanaged: break
        }
        if os.selinux != .unmanaged {
            add(host, "selinux", "SELinux \(os.selinux.rawValue) in /etc/selinux/config (EL only; reports when a reboot is needed)")
        }
        if os.timeSync != .none {
            add(host, "time-sync", "\(os.timeSync.rawValue) with servers \(os.timeServers.joined(separator: ", ")), enabled and running")
        }
        add(host, "cluster-packages", "ensure installed: pacemaker corosync pcs resource-agents fence-agents; detect pcs \(dialect.rawValue) capabilities")
        switch pg.install.method {
        case .package:
            add(host, "postgresql-packages", "ensure installed: \(pg.install.packages.joined(separator: " ")) (\(pg.install.distribution.rawValue))")
        case .source:
            add(host, "build-packages", "ensure installed: \(pg.install.buildPackages.joined(separator: " "))\(pg.install.buildPackages == SeedDefaults.buildPackages ? " (EL hosts; Debian/Ubuntu hosts: \(SeedDefaults.debianBuildPackages(version: pg.version).joined(separator: " ")))" : "")")
        }
        if pg.install.method == .package && pg.install.distribution == .debian {
            add(host, "distribution-cluster", "stop and disable Debian's auto-created PostgreSQL \(pg.version) cluster if it is pristine and in the way (a cluster that holds data is never touched)")
        }
        var user = "group \(pg.osUser.group)\(pg.osUser.gid.map { " (gid \($0))" } ?? ""), user \(pg.osUser.name)\(pg.osUser.uid.map { " (uid \($0))" } ?? ""), home \(pg.osUser.home)"
        if pg.install.method == .package { user += " (created by the package when absent)" }
        add(host, "os-user", user)
        if pg.install.method == .source {
            // After os-user: the installed prefix is owned by the PostgreSQL user (seed 000 §5.2.1).
            add(host, "postgresql-build",
                "upload \(pg.install.tarball ?? "?"), configure --prefix=\(pg.install.prefix ?? "?")\(pg.install.configureFlags.map { " " + $0 }.joined()), make, make -C contrib, install, owned by \(pg.osUser.name):\(pg.osUser.group) (only if \(pg.install.prefix ?? "?")/bin/postgres is not \(pg.install.sourceVersion ?? "?") or was configured otherwise)")
        }
        var dirs = ["\(pg.dataDir) 0700"]
        if let archive = pg.archiveDir { dirs.append("\(archive) 0700") }
        if let backup = pg.backupDir { dirs.append("\(backup) 0700") }
        if let tmp = spec.pacemaker.tmpdir { dirs.append("\(tmp) 0700") }
        add(host, "directories", "create owned by \(pg.osUser.name):\(pg.osUser.group): \(dirs.joined(separator: ", "))")
        add(host, "profile", "manage the pgha block in \(pg.osUser.home)/.bash_profile (PGDATA, PATH, PGPORT)")
        add(host, "pgpass", "write \(pg.osUser.home)/.pgpass 0600 for \(spec.replication.user) (sensitive)")
    }

    func resourceSummary() -> [String] {
        var lines: [String] = []
        if !spec.pacemaker.properties.isEmpty {
            lines.append("properties: " + spec.pacemaker.properties.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        if !spec.pacemaker.resourceDefaults.isEmpty {
            lines.append("resource defaults: " + spec.pacemaker.resourceDefaults.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        for device in spec.pacemaker.fencing { lines.append("stonith \(device.name) (\(device.type))") }
        lines.append("\(spec.vips.readWrite.resource) \(spec.vips.readWrite.ip)/\(spec.vips.readWrite.cidrNetmask) on \(spec.vips.readWrite.nic) in \(spec.vips.readWrite.group), with the promoted instance")
        if let ro = spec.vips.readOnly {
            lines.append("\(ro.resource) \(ro.ip)/\(ro.cidrNetmask) on \(ro.nic) in \(ro.group), with an unpromoted instance")
        }
        lines.append("\(spec.pacemaker.pgsqlResource) (ocf:heartbeat:pgsql, rep_mode=\(spec.replication.mode.rawValue)) as promotable clone \(spec.pacemaker.pgsqlClone)")
        return lines
    }

    /// Hosts in spec order, each with its steps in execution order.
    public func text() -> String {
        let number = Dictionary(uniqueKeysWithValues: steps.enumerated().map { ($1.id, $0 + 1) })
        var out = ""
        let indent = String(repeating: " ", count: 30)
        for node in spec.nodes {
            let role = node.name == primary ? "first primary" : "standby"
            out += "\(node.name) (\(node.address), \(role))\n"
            for step in steps where step.host == node.name {
                let n = number[step.id] ?? 0
                let crossHost = step.dependsOn.filter { !$0.hasPrefix("\(node.name)/") }
                let padded = step.name.padding(toLength: 20, withPad: " ", startingAt: 0)
                out += "  + \(String(n).leftPad(2)) \(padded) \(step.summary)\n"
                for detail in step.details { out += indent + detail + "\n" }
                if !crossHost.isEmpty {
                    let names = crossHost.map { "\($0) (#\(number[$0] ?? 0))" }
                    out += indent + "waits for " + names.joined(separator: ", ") + "\n"
                }
            }
            out += "\n"
        }
        return out
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
