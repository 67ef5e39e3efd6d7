import Foundation

/// Semantic checks: everything that parses but would break the cluster, or break it later.
struct SpecValidator {
    let r: NodeReader
    let spec: ClusterSpec

    init(_ reader: NodeReader, _ spec: ClusterSpec) {
        r = reader
        self.spec = spec
    }

    func validate() {
        checkCluster()
        checkNodes()
        checkVIPs()
        checkPostgreSQL()
        checkSettings()
        checkHBA()
        switch spec.topology {
        case .pacemaker: checkPacemaker()
        case .pgpool: checkPgpool()
        }
        checkOS()
        checkGrammar()
    }

    func checkCluster() {
        if !Grammar.matches(spec.name, "[A-Za-z0-9_.-]{1,32}") {
            r.error("cluster.name", "'\(spec.name)' must be 1–32 letters, digits, '-', '_' or '.' (corosync's cluster_name)")
        }
        if spec.node(named: spec.primary) == nil {
            r.error("cluster.primary", "'\(spec.primary)' is not a node; use one of \(spec.nodes.map(\.name).joined(separator: ", "))")
        }
    }

    func checkNodes() {
        if spec.nodes.count < 2 {
            r.error("nodes", "a cluster needs at least 2 nodes (3 or more for quorum without a qdevice)")
        } else if spec.nodes.count == 2 && spec.topology == .pacemaker {
            r.warning("nodes", "a 2-node cluster has no tie-breaker: pcs sets two_node, and a network split can fence both; add a third node or a qdevice")
        }
        var names: [String: Int] = [:], addresses: [String: Int] = [:]
        let ringCount = spec.nodes.first?.ringAddresses.count ?? 0
        for (i, node) in spec.nodes.enumerated() {
            let path = "nodes[\(i)]"
            if !Grammar.matches(node.name, Grammar.nodeName) {
                let hint = node.name.lowercased() != node.name ? " The pgsql agent compares node_list with the lower-case node name; write it in lower case." : ""
                r.error("\(path).name", "'\(node.name)' is not a valid host name (lower-case letters, digits and '-').\(hint)")
            }
            if let first = names[node.name] {
                r.error("\(path).name", "'\(node.name)' is used twice (first by nodes[\(first)]); node names must be unique")
            } else { names[node.name] = i }
            checkAddress(node.address, "\(path).address")
            if let first = addresses[node.address] {
                r.error("\(path).address", "\(node.address) is already the address of nodes[\(first)]")
            } else { addresses[node.address] = i }
            for (j, ring) in node.ringAddresses.enumerated() {
                checkAddress(ring, "\(path).ring_addresses[\(j)]")
                if let first = addresses[ring] {
                    r.error("\(path).ring_addresses[\(j)]", "\(ring) is already used by nodes[\(first)]")
                } else { addresses[ring] = i }
            }
            if node.ringAddresses.count != ringCount {
                r.error("\(path).ring_addresses", "every node needs the same number of ring addresses (nodes[0] has \(ringCount)); corosync links pair up by position")
            }
        }
        let maxLinks = spec.pacemaker.pcsDialect == .v0_9 ? 2 : 8
        if ringCount + 1 > maxLinks {
            r.error("nodes[0].ring_addresses", "\(ringCount + 1) links is more than \(spec.pacemaker.pcsDialect == .v0_9 ? "corosync 2 (pcs 0.9) allows (2 rings)" : "knet allows (8 links)")")
        }
    }

    @discardableResult
    func checkAddress(_ text: String, _ path: String) -> IPv4? {
        guard let ip = IPv4(text) else {
            r.error(path, "'\(text)' is not an IPv4 address")
            return nil
        }
        return ip
    }

    func checkVIPs() {
        var vips: [(ClusterSpec.VIP, String)] = [(spec.vips.readWrite, "vips.read_write")]
        if let ro = spec.vips.readOnly { vips.append((ro, "vips.read_only")) }
        let nodeIPs = spec.nodes.compactMap { IPv4($0.address) }
        for (vip, path) in vips {
            if !Grammar.matches(vip.nic, "[A-Za-z0-9_.:@-]{1,15}") {
                r.error("\(path).nic", "'\(vip.nic)' is not a network interface name (at most 15 characters, no spaces)")
            }
            guard let ip = checkAddress(vip.ip, "\(path).ip") else { continue }
            if let node = spec.nodes.first(where: { $0.address == vip.ip }) {
                r.error("\(path).ip", "\(vip.ip) is the address of node \(node.name); a VIP needs an address of its own")
            }
            let outside = spec.nodes.filter { IPv4($0.address).map { !$0.inSubnet(of: ip, prefix: vip.cidrNetmask) } ?? false }
            if !nodeIPs.isEmpty && outside.count == spec.nodes.count {
                r.error("\(path).ip", "\(vip.ip)/\(vip.cidrNetmask) is not in the subnet of any node; IPaddr2 can only bring it up on an interface of that subnet")
            } else if !outside.isEmpty {
                r.error("\(path).ip", "\(vip.ip)/\(vip.cidrNetmask) is outside the subnet of \(outside.map(\.name).joined(separator: ", ")), and the VIP must be able to move to every node")
            }
            if vip.cidrNetmask < 31 && (ip == ip.network(vip.cidrNetmask) || ip == ip.broadcast(vip.cidrNetmask)) {
                r.error("\(path).ip", "\(vip.ip) is the network or broadcast address of /\(vip.cidrNetmask)")
            }
        }
        if let ro = spec.vips.readOnly {
            if ro.ip == spec.vips.readWrite.ip { r.error("vips.read_only.ip", "\(ro.ip) is also the read-write VIP") }
            if ro.resource == spec.vips.readWrite.resource { r.error("vips.read_only.resource", "'\(ro.resource)' is also the read-write VIP's resource name") }
            if ro.group == spec.vips.readWrite.group { r.error("vips.read_only.group", "'\(ro.group)' is also the read-write VIP's group") }
        }
    }

    /// Absolute paths on the hosts: Grammar.absolutePathProblem.
    func checkPath(_ path: String?, _ key: String) {
        guard let path, let problem = Grammar.absolutePathProblem(path) else { return }
        r.error(key, "'\(path)' \(problem)")
    }

    func checkPostgreSQL() {
        let pg = spec.postgresql
        if !(10...17).contains(pg.version) {
            r.error("postgresql.version", "PostgreSQL \(pg.version) is not supported; use a major version from 10 to 17")
        }
        // A bin_dir not written is the prefix's bin or a distribution's: checked where it comes from.
        if r.marks["postgresql.bin_dir"] != nil { checkPath(pg.binDir, "postgresql.bin_dir") }
        checkPath(pg.dataDir, "postgresql.data_dir")
        checkPath(pg.archiveDir, "postgresql.archive_dir")
        if let archive = pg.archiveDir, archive.contains("%") {
            r.error("postgresql.archive_dir", "'\(archive)' must not contain '%': PostgreSQL expands %p and %f in archive_command, which copies into it (Sources/PghaSpec/Defaults.swift)")
        }
        checkPath(pg.backupDir, "postgresql.backup_dir")
        // The default home is built from os_user.name, which has a grammar of its own.
        if r.marks["postgresql.os_user.home"] != nil { checkPath(pg.osUser.home, "postgresql.os_user.home") }
        checkPath(pg.install.prefix, "postgresql.install.prefix")
        checkPath(spec.pacemaker.tmpdir, "pacemaker.pgsql.tmpdir")
        if let archive = pg.archiveDir, archive == pg.dataDir || archive.hasPrefix(pg.dataDir + "/") {
            r.error("postgresql.archive_dir", "must not be inside data_dir (\(pg.dataDir)): basebackup and rebuilds would copy or delete it")
        }
        if let prefix = pg.install.prefix, pg.dataDir == prefix || pg.dataDir.hasPrefix(prefix + "/") {
            r.error("postgresql.data_dir", "must not be inside the install prefix \(prefix): a reinstall would touch data")
        }
        if !Grammar.matches(pg.osUser.name, Grammar.userName) {
            r.error("postgresql.os_user.name", "'\(pg.osUser.name)' is not a valid user name")
        }
        if pg.osUser.name == "root" { r.error("postgresql.os_user.name", "PostgreSQL refuses to run as root") }
        if pg.install.method == .source {
            if let tarball = pg.install.tarball {
                checkPath(tarball, "postgresql.install.tarball")
                if pg.install.sourceVersion == nil {
                    r.error("postgresql.install.tarball", "cannot read the version from '\((tarball as NSString).lastPathComponent)'; name it postgresql-X.Y.tar.gz (upstream) or postgresql-X_X.Y.orig.tar.bz2 (Debian), or set source_version")
                } else if let named = SpecDecoder.versionFromTarball(tarball), let version = pg.install.sourceVersion, named != version {
                    r.error("postgresql.install.source_version", "\(version) is not the version in the tarball's name (\(named)): pgha would build \(named) and never see \(version) installed")
                }
            }
            if let version = pg.install.sourceVersion, Int(version.split(separator: ".").first ?? "") != pg.version {
                r.error("postgresql.install.source_version", "source version \(version) is not PostgreSQL \(pg.version) (postgresql.version)")
            }
        } else if pg.install.packages.isEmpty {
            r.error("postgresql.install.packages", "must list at least one package")
        }
        if !Grammar.matches(spec.replication.user, "[a-z_][a-z0-9_]{0,62}") {
            r.error("replication.user", "'\(spec.replication.user)' must be a plain lower-case role name")
        }
        if spec.replication.user == pg.osUser.name {
            r.warning("replication.user", "'\(spec.replication.user)' is the superuser; use a dedicated replication role")
        }
    }

    func checkSettings() {
        let pg = spec.postgresql
        let settings = Dictionary(pg.settings.map { ($0.key, $0.value) }, uniquingKeysWith: { _, b in b })
        for (key, _) in pg.settings where !Grammar.matches(key, Grammar.settingName) {
            r.keyError("postgresql.settings.\(key)", "'\(key)' is not a PostgreSQL setting name")
        }
        if let port = settings["port"], port != String(pg.port) {
            r.error("postgresql.settings.port", "set the port with postgresql.port (\(pg.port)), not in settings: pgha, the pgsql agent and .pgpass all use that one")
        }
        if pg.version >= 13, settings["wal_keep_segments"] != nil {
            r.error("postgresql.settings.wal_keep_segments", "was removed in PostgreSQL 13; use wal_keep_size (e.g. 1600MB for 100 segments)")
        }
        if pg.version < 13, settings["wal_keep_size"] != nil {
            r.error("postgresql.settings.wal_keep_size", "exists from PostgreSQL 13 on; use wal_keep_segments on \(pg.version)")
        }
        if spec.replication.mode == .sync, settings["synchronous_standby_names"] != nil {
            r.error("postgresql.settings.synchronous_standby_names", "the pgsql agent manages it in sync mode and refuses to start when postgresql.conf sets it; remove it")
        }
        if let level = settings["wal_level"], !["replica", "logical", "hot_standby", "archive"].contains(level) || level == "archive" {
            r.error("postgresql.settings.wal_level", "'\(level)' does not allow streaming replication; use replica or logical")
        }
        if let hot = settings["hot_standby"], Grammar.postgresBoolean(hot) == false {
            r.error("postgresql.settings.hot_standby", "must be on: the pgsql agent monitors standbys with queries")
        }
        if let senders = settings["max_wal_senders"].flatMap(Int.init), senders < spec.nodes.count - 1 {
            r.error("postgresql.settings.max_wal_senders", "\(senders) is fewer than the \(spec.nodes.count - 1) standbys")
        }
        if let mode = settings["archive_mode"], mode.lowercased() == "always" || Grammar.postgresBoolean(mode) == true,
           settings["archive_command"] == nil {
            r.error("postgresql.settings.archive_mode", "archive_mode is on but there is no archive_command; set postgresql.archive_dir")
        }
        if pg.settings.contains(where: { ["primary_conninfo", "restore_command", "recovery_target_timeline", "standby_mode"].contains($0.key) }) {
            r.error("postgresql.settings", "recovery settings belong to the pgsql agent (it writes them when it starts a standby); remove primary_conninfo/restore_command/standby_mode")
        }
        if let wal = settings["wal_log_hints"], Grammar.postgresBoolean(wal) == false, !pg.initdbOptions.contains("--data-checksums") && !pg.initdbOptions.contains("-k") {
            r.warning("postgresql.settings.wal_log_hints", "with wal_log_hints off and no data checksums, pg_rewind cannot rejoin a failed primary; a full basebackup will be needed")
        }
    }

    static let hbaTypes = ["local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"]
    static let hbaMethods = ["trust", "reject", "scram-sha-256", "md5", "password", "gss", "sspi", "ident", "peer",
                             "ldap", "radius", "cert", "pam", "bsd"]

    func checkHBA() {
        for (i, rule) in spec.postgresql.hba.enumerated() {
            let path = "postgresql.hba[\(i)]"
            if !Self.hbaTypes.contains(rule.type) {
                let hint = closestMatch(rule.type, in: Self.hbaTypes).map { "; did you mean '\($0)'?" } ?? ""
                r.error("\(path).type", "'\(rule.type)' is not one of \(Self.hbaTypes.joined(separator: ", "))\(hint)")
            }
            if !Self.hbaMethods.contains(rule.method) {
                let hint = closestMatch(rule.method, in: Self.hbaMethods).map { "; did you mean '\($0)'?" } ?? ""
                r.error("\(path).method", "'\(rule.method)' is not an authentication method\(hint)")
            }
            if rule.method == "scram-sha-256" && spec.postgresql.version < 10 {
                r.error("\(path).method", "scram-sha-256 needs PostgreSQL 10 or later")
            }
            if rule.type == "local" {
                if rule.address != nil { r.error("\(path).address", "a 'local' rule (Unix socket) takes no address") }
            } else if let address = rule.address {
                if CIDR(address) == nil && !["all", "samehost", "samenet"].contains(address) {
                    r.error("\(path).address", "'\(address)' is not a CIDR address like 192.168.0.0/24")
                } else if rule.method == "trust", let cidr = CIDR(address), cidr.prefix < 32 {
                    r.warning("\(path).method", "'trust' for \(address) lets anyone on that network in without a password")
                }
            } else {
                r.error(path, "a '\(rule.type)' rule needs an address (CIDR)")
            }
        }
    }

    /// A Pacemaker duration (`4s`, `500ms`, `2min`, `1h`, a bare number of seconds) in seconds.
    static func seconds(_ duration: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("min", 60), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where duration.hasSuffix(suffix) {
            return Double(duration.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(duration)
    }

    func checkPacemaker() {
        let pm = spec.pacemaker
        if let value = pm.properties.last(where: { $0.key == "stonith-enabled" })?.value, !Grammar.isPacemakerBoolean(value) {
            r.error("pacemaker.properties.stonith-enabled", "'\(value)' is not a boolean; write true or false (Pacemaker also reads yes/no, on/off, y/n and 1/0)")
        } else if !pm.stonithEnabled && !pm.acknowledgements.contains(.stonithDisabled) {
            r.error("pacemaker.properties.stonith-enabled", "disabling STONITH risks two primaries after a split; if you accept that, add 'stonith-disabled' to pacemaker.acknowledge")
        } else if !pm.stonithEnabled {
            r.warning("pacemaker.properties.stonith-enabled", "STONITH is disabled (acknowledged): a hung or cut-off primary is not fenced")
        }
        if pm.restartOnPromote {
            r.warning("pacemaker.pgsql.restart_on_promote", "true: a promotion restarts PostgreSQL and continues the old timeline, so pg_rewind cannot tell what a failed primary holds; pgha rejoins it by a fresh clone (destructive, the old directory kept). false (the default) promotes onto a new timeline")
        }
        if pm.stonithEnabled && pm.fencing.isEmpty {
            r.error("pacemaker.fencing", "STONITH is enabled but no fencing device is defined, so Pacemaker will not start any resource; add a device (e.g. fence_ipmilan) or disable STONITH with an acknowledgement")
        }
        let nqp = pm.properties.last(where: { $0.key == "no-quorum-policy" })?.value
        if nqp == "ignore" && spec.nodes.count >= 3 && !pm.acknowledgements.contains(.noQuorumPolicyIgnore) {
            r.error("pacemaker.properties.no-quorum-policy", "'ignore' on \(spec.nodes.count) nodes lets a minority partition keep the primary (split brain); if you accept that, add 'no-quorum-policy-ignore' to pacemaker.acknowledge")
        }
        // Pacemaker tells a resource's recurring monitors apart by interval: two equal ones are refused.
        let monitors = pm.operations.filter { $0.name == "monitor" }
        if monitors.count == 2, Self.seconds(monitors[0].interval) == Self.seconds(monitors[1].interval) {
            r.error("pacemaker.pgsql.operations.monitor_promoted.interval", "\(monitors[1].interval) is the standby monitor's interval too; Pacemaker needs the two monitors of a promotable resource at different intervals")
        }
        if pm.clone.cloneMax < spec.nodes.count {
            r.error("pacemaker.pgsql.clone_options.clone_max", "\(pm.clone.cloneMax) is fewer than the \(spec.nodes.count) nodes; some node would never run PostgreSQL")
        }
        var ids = [(pm.pgsqlResource, "pacemaker.pgsql.resource"), (pm.pgsqlClone, "pacemaker.pgsql.clone"),
                   (spec.vips.readWrite.resource, "vips.read_write.resource"), (spec.vips.readWrite.group, "vips.read_write.group")]
        if let ro = spec.vips.readOnly { ids += [(ro.resource, "vips.read_only.resource"), (ro.group, "vips.read_only.group")] }
        ids += pm.fencing.enumerated().map { ($1.name, "pacemaker.fencing[\($0)].name") }
        var seen = Set<String>()
        for (name, path) in ids {
            if !Grammar.matches(name, Grammar.pacemakerID) {
                r.error(path, "'\(name)' is not a valid Pacemaker id (letters, digits, '_', '.', '-', not starting with a digit)")
            }
            if !seen.insert(name).inserted { r.error(path, "the id '\(name)' is used twice (resources, groups and fencing devices share one namespace)") }
        }
        checkResources(ownIDs: ids)
        checkFencingCoverage()
        for (i, device) in pm.fencing.enumerated() where !Grammar.matches(device.type, Grammar.fenceAgent) {
            r.error("pacemaker.fencing[\(i)].type", device.type.hasPrefix("fence_")
                ? "'\(device.type)' is not a fence agent name (fence_ and then letters, digits and '_')"
                : "'\(device.type)' is not a fence agent (they are named fence_*, e.g. fence_ipmilan)")
        }
        for (key, _) in pm.properties where !Grammar.matches(key, Grammar.propertyName) {
            r.keyError("pacemaker.properties.\(key)", "'\(key)' is not a cluster property name (e.g. no-quorum-policy)")
        }
        if let tmpdir = pm.tmpdir, tmpdir.hasPrefix(spec.postgresql.dataDir + "/") {
            r.error("pacemaker.pgsql.tmpdir", "must not be inside data_dir: PGSQL.lock must survive a rebuild of the data directory")
        }
    }

    func checkOS() {
        for (i, entry) in spec.os.extraHosts.enumerated() {
            checkAddress(entry.ip, "os.hosts_file.extra[\(i)].ip")
        }
        if spec.os.timeSync != .none && spec.os.timeServers.isEmpty {
            r.error("os.time_sync.servers", "\(spec.os.timeSync.rawValue) needs at least one server")
        }
    }
}
