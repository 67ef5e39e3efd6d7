import Foundation

/// The checks of a spec of topology pgpool (seed 004_c3f681306b8e49e1.txt's design): what parses
/// but would leave pgpool-II unable to fail over safely, or pgha unable to manage it.
extension SpecValidator {
    /// pgpool.conf keys pgha writes from the spec; `pgpool.settings` may not set them.
    static let pgpoolManagedSettings: Set<String> = [
        "listen_addresses", "port", "pcp_listen_addresses", "pcp_port", "backend_clustering_mode", "master_slave_mode",
        "master_slave_sub_mode", "use_watchdog", "delegate_ip", "delegate_IP", "if_up_cmd", "if_down_cmd", "arping_cmd",
        "if_cmd_path", "arping_path", "wd_hostname", "wd_port", "health_check_period", "health_check_user",
        "health_check_password", "sr_check_period", "sr_check_user", "sr_check_password", "failover_command",
        "follow_primary_command", "follow_master_command", "recovery_user", "recovery_password", "recovery_1st_stage_command",
        "enable_pool_hba", "pool_passwd", "load_balance_mode", "enable_consensus_with_half_votes", "wd_lifecheck_method",
        "failover_when_quorum_exists", "failover_require_consensus", "delay_threshold", "health_check_timeout",
        "health_check_max_retries", "health_check_retry_delay",
    ]
    /// Per-node keys, numbered: backend_hostname0, hostname1, heartbeat_destination2, …
    static let pgpoolNumberedPrefixes = ["backend_hostname", "backend_port", "backend_weight", "backend_data_directory",
                                         "backend_flag", "backend_application_name", "hostname", "wd_port", "pgpool_port",
                                         "heartbeat_hostname", "heartbeat_port", "heartbeat_device", "heartbeat_destination",
                                         "heartbeat_destination_port", "other_pgpool_hostname", "other_pgpool_port", "other_wd_port"]
    static let pgpoolHBAMethods = ["trust", "reject", "md5", "scram-sha-256", "password", "pam", "ldap", "cert"]

    func checkPgpool() {
        guard let pp = spec.pgpool else { return }
        let path = "pgpool"
        if spec.nodes.count == 2 {
            if pp.acknowledgements.contains(.twoNodeWatchdog) {
                r.warning("nodes", "2 pgpool nodes (acknowledged): the watchdog cannot tell a dead peer from a cut network\(pp.consensusWithHalfVotes ? "; with consensus_with_half_votes either half may take the VIP" : ", and without consensus_with_half_votes a single survivor cannot fail over")")
            } else {
                r.error("nodes", "2 pgpool nodes cannot tell a dead peer from a cut network (the watchdog needs a majority of 3 or more); add a third node, or add 'two-node-watchdog' to pgpool.acknowledge")
            }
        }
        if pp.dialect == .v4_0 && !pp.consensusWithHalfVotes && spec.nodes.count % 2 == 0 {
            r.error("\(path).consensus_with_half_votes", "pgpool-II 4.0 always counts half of the votes as a majority (the setting came with 4.1); on \(spec.nodes.count) nodes write consensus_with_half_votes: true to say so")
        }
        if spec.replication.mode == .sync {
            r.error("replication.mode", "sync is supported with topology pacemaker only so far; pgpool's failover does not check which standby is synchronous")
        }
        var ports: [Int: String] = [spec.postgresql.port: "postgresql.port"]
        for (port, key) in [(pp.port, "port"), (pp.pcpPort, "pcp_port"), (pp.watchdogPort, "watchdog.port"), (pp.heartbeatPort, "watchdog.heartbeat_port")] {
            if let first = ports[port] { r.error("\(path).\(key)", "\(port) is already \(first)") } else { ports[port] = "\(path).\(key)" }
        }
        if pp.healthCheck.period == 0 {
            r.error("\(path).health_check.period", "0 turns health checks off: pgpool would notice a dead primary only when a client's query fails; use a period of 1 or more seconds")
        }
        if pp.srCheckPeriod == 0 {
            r.error("\(path).sr_check.period", "0 turns the streaming-replication check off, and pgha's backends are ALLOW_TO_FAILOVER: pgpool could promote a standby it never checked; use a period of 1 or more seconds")
        }
        var names = Set<String>()
        for (i, user) in pp.users.enumerated() {
            if !Grammar.matches(user.name, "[a-z_][a-z0-9_]{0,62}") {
                r.error("\(path).users[\(i)].name", "'\(user.name)' must be a plain lower-case role name (it is a line of pool_passwd and a PostgreSQL role)")
            } else if user.name == spec.postgresql.osUser.name {
                r.error("\(path).users[\(i)].name", "'\(user.name)' is the superuser; pgpool's users get LOGIN and a password from pgha, use dedicated roles")
            }
            if !names.insert(user.name).inserted { r.error("\(path).users[\(i)].name", "'\(user.name)' is listed twice") }
        }
        if pp.users.isEmpty { r.error("\(path).users", "list at least the health-check user (name and password reference)") }
        for (user, key) in [(pp.healthCheck.user, "health_check.user"), (pp.srCheckUser, "sr_check.user")] where !names.contains(user) {
            r.error("\(path).\(key)", "'\(user)' is not in pgpool.users; pgpool reads its password from pool_passwd, so list it there")
        }
        if !Grammar.matches(pp.pcpUser, "[A-Za-z_][A-Za-z0-9_.-]{0,62}") {
            r.error("\(path).pcp.user", "'\(pp.pcpUser)' is not a pcp user name (letters, digits, '_', '.', '-'; pcp.conf separates fields with ':')")
        }
        for (i, rule) in pp.hba.enumerated() {
            let p = "\(path).hba[\(i)]"
            if !["local", "host", "hostssl", "hostnossl"].contains(rule.type) {
                r.error("\(p).type", "'\(rule.type)' is not one of local, host, hostssl, hostnossl (pool_hba.conf)")
            }
            if !Self.pgpoolHBAMethods.contains(rule.method) {
                let hint = closestMatch(rule.method, in: Self.pgpoolHBAMethods).map { "; did you mean '\($0)'?" } ?? ""
                r.error("\(p).method", "'\(rule.method)' is not a pool_hba.conf method (\(Self.pgpoolHBAMethods.joined(separator: ", ")))\(hint)")
            }
            for (field, value) in [("database", rule.database), ("user", rule.user)] {
                refuse(value, "\(p).\(field)", unless: Grammar.matches(value, Grammar.hbaNames),
                       "a pool_hba.conf \(field) list (comma-separated names or keywords like all; no spaces, quotes or '#')")
            }
            if rule.type == "local" {
                if rule.address != nil { r.error("\(p).address", "a 'local' rule (Unix socket) takes no address") }
            } else if let address = rule.address {
                if CIDR(address) == nil && address != "all" { r.error("\(p).address", "'\(address)' is not a CIDR address like 192.168.0.0/24") }
            } else {
                r.error(p, "a '\(rule.type)' rule needs an address (CIDR)")
            }
        }
        for (key, value) in pp.settings {
            let p = "\(path).settings.\(key)"
            if !Grammar.matches(key, "[a-z_][a-z0-9_]*") {
                r.keyError(p, "'\(key)' is not a pgpool.conf setting name")
            } else if Self.pgpoolManagedSettings.contains(key)
                        || Self.pgpoolNumberedPrefixes.contains(where: { key.hasPrefix($0) && Int(key.dropFirst($0.count)) != nil }) {
                r.keyError(p, "'\(key)' is written by pgha from the spec (nodes, postgresql, pgpool's own keys); set it there")
            }
            if value.contains("'") { r.error(p, "a pgpool.conf value cannot hold a single quote") }
        }
    }
}
