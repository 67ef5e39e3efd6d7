import PghaSpec

/// The values templates see. Every key is always present (empty lists rather than missing
/// keys), so the strict check can tell a typo from an optional section.
struct RenderContext {
    let spec: ClusterSpec
    let dialect: ClusterSpec.PcsDialect

    var common: [String: Any] {
        let pg = spec.postgresql
        return [
            "cluster": ["name": spec.name, "primary": spec.primary] as [String: Any],
            "pg": [
                "version": pg.version, "bin_dir": pg.binDir, "data_dir": pg.dataDir, "port": pg.port,
                "archive_dir": pg.archiveDir ?? "", "user": pg.osUser.name, "group": pg.osUser.group,
                "home": pg.osUser.home,
            ] as [String: Any],
            "nodes": spec.nodes.map { ["name": $0.name, "address": $0.address, "ring_addresses": $0.ringAddresses] as [String: Any] },
            "hosts": hostsEntries(),
            "settings": pg.settings.map { ["key": $0.key, "value": Self.confValue($0.value)] },
            "hba_builtin": builtinHBA().map { ["line": Self.hbaLine($0)] },
            "hba": pg.hba.map { ["line": Self.hbaLine($0)] },
            "environment": environment().map { ["key": $0.0, "value": Self.profileValue($0.1)] },
            // Topology pgpool: pgha and pgpool's scripts keep a standby's primary_conninfo in a file of its own.
            "standby_include": spec.topology == .pgpool && pg.version >= 12 ? "include_if_exists = 'pgha-standby.conf'" : "",
        ]
    }

    func forNode(_ node: ClusterSpec.Node, replicationPassword: String, pgpassExtra: [String] = []) -> [String: Any] {
        var context = common
        // Topology pgpool: the health-check user through pgpool, for pgha's own reading of pgpool's settings.
        context["pgpass_extra"] = pgpassExtra
        context["node"] = ["name": node.name, "address": node.address, "is_primary": node.name == spec.primary] as [String: Any]
        context["replication"] = ["user": spec.replication.user, "mode": spec.replication.mode.rawValue,
                                  "password": Self.pgpassEscape(replicationPassword)]
        return context
    }

    func cluster() -> [String: Any] {
        var context = common
        let commands = PcsCommands(spec: spec, dialect: dialect)
        let setup = commands.setupCommands()
        // The auth command reads the password; everything after it does not.
        context["pcs"] = [
            "dialect": dialect.rawValue,
            "auth": setup.prefix(1).map(\.rendered),
            "setup": setup.dropFirst().map(\.rendered),
            "resources": commands.resourceCommands().map(\.rendered),
        ] as [String: Any]
        return context
    }

    func hostsEntries() -> [[String: Any]] {
        var entries = spec.nodes.map { ["ip": $0.address, "names": $0.name] }
        entries.append(["ip": spec.vips.readWrite.ip, "names": spec.vips.readWrite.hostname])
        if let ro = spec.vips.readOnly { entries.append(["ip": ro.ip, "names": ro.hostname]) }
        entries += spec.os.extraHosts.map { ["ip": $0.ip, "names": $0.names.joined(separator: " ")] }
        return entries
    }

    /// Local administration by peer, then replication from every node (standbys clone from the
    /// primary, and any node may be the primary after a failover), then pg_rewind's connection.
    func builtinHBA() -> [ClusterSpec.HBARule] {
        let pg = spec.postgresql
        let method = pg.version >= 14 ? "scram-sha-256" : "md5"
        var rules = [ClusterSpec.HBARule(type: "local", database: "all", user: pg.osUser.name, address: nil, method: "peer")]
        for node in spec.nodes {
            rules.append(.init(type: "host", database: "replication", user: spec.replication.user,
                               address: "\(node.address)/32", method: method))
        }
        // pg_rewind's source connection when a node rejoins (RewindGrantsStep grants the role its functions).
        for node in spec.nodes {
            rules.append(.init(type: "host", database: "postgres", user: spec.replication.user,
                               address: "\(node.address)/32", method: method))
        }
        // Topology pgpool: pgpool's health and replication checks from every node, and online
        // recovery's superuser (pgpool_recovery() in template1). pgha stores SCRAM verifiers.
        if let pgpool = spec.pgpool {
            let checkers = [pgpool.healthCheck.user, pgpool.srCheckUser].reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            for node in spec.nodes {
                rules.append(.init(type: "host", database: "postgres", user: checkers.joined(separator: ","),
                                   address: "\(node.address)/32", method: "scram-sha-256"))
                rules.append(.init(type: "host", database: "template1", user: PgpoolSecrets.recoveryUser,
                                   address: "\(node.address)/32", method: "scram-sha-256"))
            }
        }
        return rules
    }

    func environment() -> [(String, String)] {
        let pg = spec.postgresql
        var variables = [("PGPORT", String(pg.port)), ("PGDATA", pg.dataDir), ("PATH", "\(pg.binDir):$PATH")]
        if pg.install.method == .source, let prefix = pg.install.prefix {
            variables.append(("PG_HOME", prefix))
            variables.append(("LD_LIBRARY_PATH", "\(prefix)/lib"))
        }
        for (key, value) in pg.environment {
            if let index = variables.firstIndex(where: { $0.0 == key }) { variables[index].1 = value } else { variables.append((key, value)) }
        }
        return variables
    }

    static func hbaLine(_ rule: ClusterSpec.HBARule) -> String {
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
        return pad(rule.type, 9) + pad(rule.database, 16) + pad(rule.user, 16) + pad(rule.address ?? "", 24) + rule.method
    }

    /// postgresql.conf values: numbers, units and plain words bare; a value the spec already
    /// wrote as one well-formed quoted string as it is; everything else quoted, with `''` for a
    /// quote and `\\` for a backslash (PostgreSQL's reading of a quoted value), so the server
    /// reads back exactly the spec's text.
    static func confValue(_ value: String) -> String {
        if isQuotedConfString(value) { return value }
        if value.range(of: "^(-?[0-9]+(\\.[0-9]+)?[A-Za-z]*|[A-Za-z_][A-Za-z0-9_]*)$", options: .regularExpression) != nil {
            return value
        }
        return "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// `'…'` whose quotes inside are doubled (or backslash-escaped) and that does not end in a
    /// lone backslash: one string to PostgreSQL, nothing after it.
    static func isQuotedConfString(_ value: String) -> Bool {
        guard value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") else { return false }
        var inner = Array(value.dropFirst().dropLast())[...]
        while let c = inner.popFirst() {
            if c == "\\" { guard inner.popFirst() != nil else { return false } }
            else if c == "'" { guard inner.popFirst() == "'" else { return false } }
        }
        return true
    }

    /// A value of `export NAME=VALUE` in ~/.bash_profile: bare when plain (references like
    /// `$PATH` included); otherwise in double quotes with `\\`, `"`, `` ` `` and every `$` that does
    /// not start a plain variable reference escaped, so bash expands variables and runs nothing.
    static func profileValue(_ value: String) -> String {
        let plain = "[A-Za-z0-9_./:=@%+,-]"
        if value.range(of: "^(\\$[A-Za-z_][A-Za-z0-9_]*|\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}|\(plain))*$", options: .regularExpression) != nil, !value.isEmpty {
            return value
        }
        var out = "\""
        let chars = Array(value)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "\\", "\"", "`": out += "\\" + String(c)
            case "$":
                let rest = String(chars[(i + 1)...])
                if rest.range(of: "^([A-Za-z_]|\\{[A-Za-z_][A-Za-z0-9_]*\\})", options: .regularExpression) != nil { out += "$" } else { out += "\\$" }
            default: out.append(c)
            }
            i += 1
        }
        return out + "\""
    }

    /// .pgpass fields escape ':' and '\'.
    static func pgpassEscape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
    }
}
