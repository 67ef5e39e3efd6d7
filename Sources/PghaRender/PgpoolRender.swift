import Foundation
import PghaShell
import PghaSpec

/// The files of the pgpool topology (seed 004_c3f681306b8e49e1.txt): pgpool.conf (one per node in
/// the 4.0 dialect, the same on every node from 4.2 with each node's pgpool_node_id), pool_hba.conf,
/// pcp.conf, pool_passwd (AES, never clear text), the pgpool key and .pcppass of the PostgreSQL
/// user, pgpool's scripts, the SSH trust those scripts use and the sudo rule for the VIP commands.
struct PgpoolRender {
    let spec: ClusterSpec
    let pgpool: PgpoolSpec
    let dialect: PgpoolSpec.Dialect
    /// Secret values by reference; nil: placeholders (`--redact-secrets`, golden files).
    let secrets: ((SecretRef) throws -> String)?
    /// Each node's pinned SSH host keys ("ssh-ed25519 AAAA…"), from the inventory's known_hosts.
    let hostKeys: [String: [String]]

    var pg: ClusterSpec.PostgreSQL { spec.postgresql }
    var standbyFile: String { pg.dataDir + (pg.version >= 12 ? "/pgha-standby.conf" : "/recovery.conf") }
    var sshDir: String { pg.osUser.home + "/.ssh" }
    var sshKeyPath: String { sshDir + "/id_pgha_pgpool" }
    var knownHostsPath: String { sshDir + "/pgha_known_hosts" }
    var standbyScript: String { pgpool.configDir + "/pgha-standby-conf" }

    /// ip and arping as the watchdog runs them through sudo: Debian's iproute2 and iputils-arping
    /// install them in /usr/bin (/usr/sbin/ip is a link there), EL's in /usr/sbin.
    var ipPath: String { pg.install.distribution == .debian ? "/usr/bin/ip" : "/usr/sbin/ip" }
    var arpingPath: String { pg.install.distribution == .debian ? "/usr/bin/arping" : "/usr/sbin/arping" }
    static let sudoPath = "/usr/bin/sudo"

    func secret(_ reference: SecretRef, _ what: String) throws -> String? {
        guard let secrets else { return nil }
        do { return try secrets(reference) } catch {
            throw DiagnosticsError([Diagnostic(file: spec.file, line: 0, column: 0, message: "\(what): \(error)")])
        }
    }

    var vipCommands: (up: [String], down: [String], arping: [String]) {
        let vip = spec.vips.readWrite
        return ([ipPath, "addr", "add", "\(vip.ip)/\(vip.cidrNetmask)", "dev", vip.nic, "label", "\(vip.nic):0"],
                [ipPath, "addr", "del", "\(vip.ip)/\(vip.cidrNetmask)", "dev", vip.nic],
                [arpingPath, "-U", vip.ip, "-w", "1", "-I", vip.nic])
    }

    /// pgpool replaces $_IP_$ with the delegate IP; pgha writes the address itself, so that the
    /// sudo rule can name exactly these commands.
    static func commandLine(_ argv: [String]) -> String { ([sudoPath, "-n"] + argv).map(quote).joined(separator: " ") }

    /// A sudoers command: its arguments with sudoers' special characters escaped.
    static func sudoersCommand(_ argv: [String]) -> String {
        argv.map { $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
            .replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: "=", with: "\\=") }.joined(separator: " ")
    }

    func context(common: [String: Any], replicationUser: String) throws -> [String: Any] {
        let key = try secret(pgpool.key, "pgpool.key")
        var users: [[String: String]] = []
        for user in pgpool.users {
            let password = try secret(user.password, "pgpool.users \(user.name)")
            let entry = try password.map { password -> String in
                guard let key, let aes = PgpoolSecrets.aesPassword(password, key: key) else {
                    throw DiagnosticsError([Diagnostic(file: spec.file, line: 0, column: 0, message: "pgpool.users \(user.name): AES encryption failed (libcrypto)")])
                }
                return aes
            } ?? Renderer.redacted
            users.append(["line": "\(user.name):\(entry)"])
        }
        // Online recovery's superuser, its password derived from the key (PgpoolSecrets.recoveryPassword).
        let recovery = key.flatMap { PgpoolSecrets.recoveryPassword(key: $0, cluster: spec.name) }
        let recoveryEntry = key.flatMap { key in recovery.flatMap { PgpoolSecrets.aesPassword($0, key: key) } } ?? Renderer.redacted
        users.append(["line": "\(PgpoolSecrets.recoveryUser):\(recoveryEntry)"])
        let pcpPassword = try secret(pgpool.pcpPassword, "pgpool.pcp.password")
        let sshKey = key.flatMap { PgpoolSecrets.sshKey(key: $0, cluster: spec.name) }
        let commands = vipCommands
        let sshOptions = ["-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(knownHostsPath)",
                          "-o", "ConnectTimeout=5", "-i", sshKeyPath]
        let hba = pgpool.hba.map { ["line": RenderContext.hbaLine($0)] }
        let builtinHBA = spec.nodes.map {
            ["line": RenderContext.hbaLine(.init(type: "host", database: "postgres", user: pgpool.healthCheck.user, address: "\($0.address)/32", method: "scram-sha-256"))]
        }
        var context = common
        context["replication"] = ["user": replicationUser]
        context["pgpool"] = [
            "dialect": dialect.rawValue, "config_dir": pgpool.configDir, "port": pgpool.port, "pcp_port": pgpool.pcpPort,
            "pcp_user": pgpool.pcpUser, "recovery_user": PgpoolSecrets.recoveryUser, "wd_port": pgpool.watchdogPort, "heartbeat_port": pgpool.heartbeatPort,
            "socket_dir": "/var/run/postgresql", "socket_dir_key": dialect >= .v4_5 ? "unix_socket_directories" : "socket_dir", "pid_file": "/var/run/postgresql/pgpool.pid", "logdir": "/var/run/postgresql",
            "vip": ["ip": spec.vips.readWrite.ip, "nic": spec.vips.readWrite.nic, "cidr": spec.vips.readWrite.cidrNetmask] as [String: Any],
            "if_up_cmd": Self.commandLine(commands.up), "if_down_cmd": Self.commandLine(commands.down),
            "arping_cmd": Self.commandLine(commands.arping),
            "sudo_commands": [commands.up, commands.down, commands.arping].map(Self.sudoersCommand).joined(separator: ", "),
            "health_check": ["period": pgpool.healthCheck.period, "timeout": pgpool.healthCheck.timeout,
                             "max_retries": pgpool.healthCheck.maxRetries, "retry_delay": pgpool.healthCheck.retryDelay,
                             "user": pgpool.healthCheck.user] as [String: Any],
            "sr_check": ["period": pgpool.srCheckPeriod, "user": pgpool.srCheckUser] as [String: Any],
            "delay_threshold": pgpool.delayThreshold,
            "load_balance": pgpool.loadBalance ? "on" : "off",
            "consensus_with_half_votes": pgpool.consensusWithHalfVotes ? "on" : "off",
            "backends": spec.nodes.enumerated().map { ["id": $0, "name": $1.name, "address": $1.address] as [String: Any] },
            "settings": pgpool.settings.map { ["key": $0.key, "value": RenderContext.confValue($0.value)] },
            "hba": hba,
            "hba_builtin": builtinHBA,
            "users": users,
            "pcp_line": "\(pgpool.pcpUser):\(pcpPassword.map(PgpoolSecrets.md5Hex) ?? Renderer.redacted)",
            "pcppass": "localhost:\(pgpool.pcpPort):\(pgpool.pcpUser):\(pcpPassword.map(RenderContext.pgpassEscape) ?? Renderer.redacted)",
            "key": key ?? Renderer.redacted,
            "standby_file": standbyFile,
            "standby_signal": pg.version >= 12,
            "ssh": ["known_hosts": knownHostsPath, "key_path": sshKeyPath,
                    "options": sshOptions.map(quote).joined(separator: " "),
                    "private_key": sshKey.map { String($0.privateFile.dropLast()) } ?? Renderer.redacted,
                    "authorized": sshKey.map { "from=\"\(spec.nodes.map(\.address).joined(separator: ","))\" \($0.publicLine)" } ?? Renderer.redacted,
                    "known_hosts_lines": knownHostsLines()] as [String: Any],
            // Values written into the scripts, each one word through the one quoting function.
            "sh": ["pg_ctl": quote(pg.binDir + "/pg_ctl"), "psql": quote(pg.binDir + "/psql"), "pg_rewind": quote(pg.binDir + "/pg_rewind"),
                   "pg_basebackup": quote(pg.binDir + "/pg_basebackup"), "data_dir": quote(pg.dataDir),
                   "log": quote(pg.osUser.home + "/pgha-pgpool.log"), "standby_file": quote(standbyFile),
                   "write_standby_conf": quote(standbyScript)],
        ] as [String: Any]
        return context
    }

    /// known_hosts lines: every node's pinned host keys under its cluster address and name.
    func knownHostsLines() -> [String] {
        spec.nodes.flatMap { node in (hostKeys[node.name] ?? []).map { "\(node.address),\(node.name) \($0)" } }
    }

    func nodeContext(_ base: [String: Any], _ index: Int) -> [String: Any] {
        var context = base
        let node = spec.nodes[index]
        context["node"] = ["name": node.name, "address": node.address, "id": index,
                           "others": spec.nodes.filter { $0.name != node.name }.map { ["name": $0.name, "address": $0.address] }] as [String: Any]
        return context
    }

    typealias FileMaker = (_ node: ClusterSpec.Node?, _ template: String, _ path: String, _ context: [String: Any], _ mode: UInt32,
                           _ owner: String, _ group: String, _ kind: RenderedFile.Kind, _ sensitive: Bool) throws -> RenderedFile?

    /// The pgpool files of one node.
    func files(for index: Int, context base: [String: Any], make: FileMaker) throws -> [RenderedFile] {
        let node = spec.nodes[index]
        let context = nodeContext(base, index)
        let dir = pgpool.configDir, user = pg.osUser.name, group = pg.osUser.group
        var specs: [(String, String, UInt32, String, String, RenderedFile.Kind, Bool)] = [
            ("pgpool.conf.stencil", "\(dir)/pgpool.conf", 0o640, "root", group, .whole, false),
            ("pool_hba.conf.stencil", "\(dir)/pool_hba.conf", 0o644, "root", "root", .whole, false),
            ("pcp.conf.stencil", "\(dir)/pcp.conf", 0o640, "root", group, .whole, false),
            ("pool_passwd.stencil", "\(dir)/pool_passwd", 0o640, "root", group, .whole, true),
            ("pgpool-failover.sh.stencil", "\(dir)/failover.sh", 0o755, "root", "root", .whole, false),
            ("pgpool-follow-primary.sh.stencil", "\(dir)/follow_primary.sh", 0o755, "root", "root", .whole, false),
            ("pgpool-standby-conf.sh.stencil", standbyScript, 0o755, "root", "root", .whole, false),
            ("pgpool-recovery-1st-stage.stencil", "\(pg.dataDir)/recovery_1st_stage", 0o700, user, group, .whole, false),
            ("pgpool-remote-start.stencil", "\(pg.dataDir)/pgpool_remote_start", 0o700, user, group, .whole, false),
            ("pgpoolkey.stencil", "\(pg.osUser.home)/.pgpoolkey", 0o600, user, group, .whole, true),
            ("pcppass.stencil", "\(pg.osUser.home)/.pcppass", 0o600, user, group, .whole, true),
            ("pgpool-ssh-key.stencil", sshKeyPath, 0o600, user, group, .whole, true),
            ("pgpool-authorized-keys.stencil", "\(sshDir)/authorized_keys", 0o600, user, group, .managedBlock, false),
            ("pgpool-known-hosts.stencil", knownHostsPath, 0o644, user, group, .whole, false),
            ("pgpool-sudoers.stencil", "/etc/sudoers.d/pgha-pgpool", 0o440, "root", "root", .whole, false),
        ]
        if dialect >= .v4_2 { specs.insert(("pgpool_node_id.stencil", "\(dir)/pgpool_node_id", 0o644, "root", "root", .whole, false), at: 1) }
        return try specs.compactMap { try make(node, $0.0, $0.1, context, $0.2, $0.3, $0.4, $0.5, $0.6) }
    }
}
