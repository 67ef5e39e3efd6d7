import Foundation

/// The allow-lists of Sources/PghaSpec/Grammar.swift applied to the spec's free-form values that
/// SpecValidator.swift does not check for their meaning already. Control characters are refused
/// for every value before this (NodeReader.refuseControlCharacters); what is left free-form on
/// purpose: settings values, environment values, property, resource default and fencing
/// parameter values, which are quoted where they are written.
extension SpecValidator {
    func checkGrammar() {
        checkInstallGrammar()
        checkPostgreSQLGrammar()
        if spec.topology == .pacemaker { checkPacemakerGrammar() }
        checkHostNameGrammar()
    }

    /// "'VALUE' is not WHAT" when the value is outside its grammar.
    func refuse(_ value: String, _ path: String, unless ok: Bool, _ what: String) {
        if !ok { r.error(path, "'\(value)' is not \(what)") }
    }

    func checkInstallGrammar() {
        let install = spec.postgresql.install
        let package = "a package name (letters, digits and + . _ -, starting with a letter or digit; no version or architecture)"
        for (i, name) in install.packages.enumerated() {
            refuse(name, "postgresql.install.packages[\(i)]", unless: Grammar.matches(name, Grammar.packageName), package)
        }
        for (i, name) in install.buildPackages.enumerated() {
            refuse(name, "postgresql.install.build_packages[\(i)]", unless: Grammar.matches(name, Grammar.packageName), package)
        }
        if let version = install.sourceVersion {
            refuse(version, "postgresql.install.source_version", unless: Grammar.matches(version, Grammar.sourceVersion),
                   "a version number like 15.20")
        }
        for (i, flag) in install.configureFlags.enumerated() {
            refuse(flag, "postgresql.install.configure_flags[\(i)]", unless: Grammar.matches(flag, Grammar.configureFlag),
                   "a configure option like --with-openssl, --with-includes=/usr/include/openssl or CFLAGS=-O2 (one word: letters, digits and _ . / : + , @ % = -, no spaces or quotes)")
        }
    }

    func checkPostgreSQLGrammar() {
        let pg = spec.postgresql
        if !Grammar.matches(pg.osUser.group, Grammar.userName) {
            r.error("postgresql.os_user.group", "'\(pg.osUser.group)' is not a valid group name")
        }
        for (i, option) in pg.initdbOptions.enumerated() {
            let path = "postgresql.initdb_options[\(i)]"
            if !Grammar.matches(option, Grammar.initdbOption) {
                r.error(path, "'\(option)' is not an initdb option like --data-checksums, --encoding=UTF8 or -k (one word: a value goes after '=', no spaces or quotes)")
            } else if option == "-D" || option == "--pgdata" || option.hasPrefix("--pgdata=") {
                r.error(path, "the data directory is postgresql.data_dir (pgha passes it to initdb); remove '\(option)'")
            }
        }
        for (key, _) in pg.environment where !Grammar.matches(key, Grammar.environmentName) {
            r.keyError("postgresql.environment.\(key)", "'\(key)' is not an environment variable name (letters, digits and '_', not starting with a digit)")
        }
        for (i, rule) in pg.hba.enumerated() {
            for (field, value) in [("database", rule.database), ("user", rule.user)] {
                refuse(value, "postgresql.hba[\(i)].\(field)", unless: Grammar.matches(value, Grammar.hbaNames),
                       "a pg_hba.conf \(field) list (comma-separated names or keywords like all, replication, +group; no spaces, quotes, '#' or @file)")
            }
        }
        for (key, value) in spec.replication.conninfoOptions {
            let path = "replication.conninfo_options.\(key)"
            if !Grammar.matches(key, Grammar.conninfoKey) {
                r.keyError(path, "'\(key)' is not a connection keyword (lower-case letters and '_', e.g. keepalives_idle)")
            } else if !Grammar.matches(value, Grammar.conninfoValue) {
                r.error(path, "'\(value)' must be one word of letters, digits and _ . / : + , @ % = -: the options are joined unquoted into the pgsql agent's primary_conninfo_opt, where a space or a quote would change the connection string")
            }
        }
    }

    func checkPacemakerGrammar() {
        let pm = spec.pacemaker
        let name = "a Pacemaker attribute name (letters, digits, '_', '.', '-', not starting with a digit)"
        for (key, _) in pm.resourceDefaults where !Grammar.matches(key, Grammar.pacemakerName) {
            r.keyError("pacemaker.resource_defaults.\(key)", "'\(key)' is not \(name)")
        }
        for (i, device) in pm.fencing.enumerated() {
            for (key, _) in device.parameters where !Grammar.matches(key, Grammar.pacemakerName) {
                r.keyError("pacemaker.fencing[\(i)].parameters.\(key)", "'\(key)' is not \(name)")
            }
        }
        var vips = [(spec.vips.readWrite, "vips.read_write")]
        if let ro = spec.vips.readOnly { vips.append((ro, "vips.read_only")) }
        for (vip, path) in vips {
            checkOperations(vip.operations, "\(path).operations")
            for (key, _) in vip.meta where !Grammar.matches(key, Grammar.pacemakerName) {
                r.error("\(path).meta.\(key)", "'\(key)' is not \(name)")
            }
        }
        checkOperations(pm.operations, "pacemaker.pgsql.operations")
    }

    /// The decoder already holds overrides to these grammars (SpecLoader.decodeOperations); this
    /// keeps a spec built in code to them as well.
    func checkOperations(_ operations: [ClusterSpec.Operation], _ path: String) {
        for op in operations {
            let opPath = "\(path).\(op.role == "promoted" ? "monitor_promoted" : op.name)"
            refuse(op.name, opPath, unless: Grammar.matches(op.name, Grammar.operationName), "an operation name")
            if let role = op.role { refuse(role, "\(opPath).role", unless: Grammar.matches(role, Grammar.role), "a role") }
            refuse(op.timeout, "\(opPath).timeout", unless: Grammar.matches(op.timeout, Grammar.duration), "a duration like 60s")
            refuse(op.interval, "\(opPath).interval", unless: Grammar.matches(op.interval, Grammar.duration), "a duration like 10s")
            if let onFail = op.onFail {
                refuse(onFail, "\(opPath).on_fail", unless: Grammar.matches(onFail, Grammar.operationName), "an on-fail policy")
            }
        }
    }

    /// Names written into /etc/hosts and the time service's configuration.
    func checkHostNameGrammar() {
        let hostName = "a host name (letters, digits and '-' in labels separated by '.')"
        var vips = [(spec.vips.readWrite, "vips.read_write")]
        if let ro = spec.vips.readOnly { vips.append((ro, "vips.read_only")) }
        for (vip, path) in vips {
            refuse(vip.hostname, "\(path).hostname", unless: Grammar.isHostName(vip.hostname), hostName)
        }
        for (i, entry) in spec.os.extraHosts.enumerated() {
            for (j, name) in entry.names.enumerated() {
                refuse(name, "os.hosts_file.extra[\(i)].names[\(j)]", unless: Grammar.isHostName(name), hostName)
            }
        }
        for (i, server) in spec.os.timeServers.enumerated() {
            refuse(server, "os.time_sync.servers[\(i)]", unless: Grammar.isHostNameOrIPv4(server), "a host name or an IPv4 address")
        }
    }
}
