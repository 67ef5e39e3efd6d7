import Foundation

/// Where a secret comes from. The value itself never lives in a spec, argv, log or plan.
public enum SecretRef: Equatable, Sendable, CustomStringConvertible {
    case env(String)
    case file(String)

    public var description: String {
        switch self {
        case .env(let name): return "env:\(name)"
        case .file(let path): return "file:\(path)"
        }
    }

    /// Reads the secret; a trailing newline of a file is not part of it. A secret is one line:
    /// it is fed to chpasswd and written to ~/.pgpass, where a line break starts a new entry, so
    /// a newline, carriage return or NUL in it is refused, naming the reference, never the value.
    public func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        switch self {
        case .env(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw SecretError(message: "environment variable \(name) is not set; export it before running pgha")
            }
            try refuseLineBreaks(value)
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path),
                  let text = String(data: data, encoding: .utf8) else {
                throw SecretError(message: "secret file \(path) cannot be read; create it (mode 0600)")
            }
            // Scalars, not Characters: "\r\n" is one Character and would hide its "\n".
            var scalars = text.unicodeScalars
            if scalars.last == "\n" { scalars.removeLast() }
            let value = String(scalars)
            guard !value.isEmpty else { throw SecretError(message: "secret file \(path) is empty") }
            try refuseLineBreaks(value)
            return value
        }
    }

    /// A warning when the secret's file can be read by its group or by others, else nil.
    public var exposure: String? {
        guard case .file(let path) = self,
              let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int,
              mode & 0o077 != 0 else { return nil }
        return "secret file \(path) has mode \(String(mode, radix: 8)): its group or others can read it; chmod 600 \(path)"
    }

    func refuseLineBreaks(_ value: String) throws {
        let names: [(Unicode.Scalar, String)] = [("\n", "a newline"), ("\r", "a carriage return"), ("\0", "a NUL byte")]
        guard let (_, found) = names.first(where: { value.unicodeScalars.contains($0.0) }) else { return }
        let hint: String
        switch self {
        case .env: hint = "set the variable to the secret alone, on one line"
        case .file: hint = found == "a newline" ? "keep the secret on the file's first line, with at most one newline after it"
            : "write the secret alone, on one line (a carriage return comes from Windows line endings)"
        }
        throw SecretError(message: "secret \(description) contains \(found); a secret must be a single line: \(hint)")
    }
}

public struct SecretError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// The whole cluster as the user declared it, with defaults filled in from seeds 000/001.
public struct ClusterSpec: Sendable {
    public var file: String
    public var name: String
    public var topology: Topology
    public var nodes: [Node]
    /// The node that is initialised as the first primary (default: the first node).
    public var primary: String
    public var vips: VIPs
    public var postgresql: PostgreSQL
    public var replication: Replication
    /// Topology pacemaker: the `pacemaker:` section. Topology pgpool: `Pacemaker.unused`, which
    /// nothing of that topology reads (its steps are StepCatalog.pgpool's).
    public var pacemaker: Pacemaker
    /// Topology pgpool: the `pgpool:` section; nil for pacemaker.
    public var pgpool: PgpoolSpec?
    public var os: OSPreparation

    public struct Node: Sendable, Equatable {
        public var name: String
        public var address: String
        /// Extra corosync links (a dedicated heartbeat network, seed 002).
        public var ringAddresses: [String]
    }

    public struct VIP: Sendable, Equatable {
        public var resource: String
        public var ip: String
        public var nic: String
        public var cidrNetmask: Int
        /// Name given to the address in the managed /etc/hosts block.
        public var hostname: String
        public var group: String
        public var operations: [Operation]
        public var meta: [(String, String)]
        public static func == (a: VIP, b: VIP) -> Bool {
            a.resource == b.resource && a.ip == b.ip && a.nic == b.nic && a.cidrNetmask == b.cidrNetmask
        }
    }

    public struct VIPs: Sendable {
        public var readWrite: VIP
        public var readOnly: VIP?
    }

    public enum InstallMethod: String, CaseIterable, Sendable { case package, source }
    public enum Distribution: String, CaseIterable, Sendable { case pgdg, debian }

    public struct Install: Sendable {
        public var method: InstallMethod
        public var distribution: Distribution
        public var packages: [String]
        public var tarball: String?
        public var sourceVersion: String?
        public var prefix: String?
        public var configureFlags: [String]
        public var buildPackages: [String]
    }

    public struct OSUser: Sendable {
        public var name: String
        public var group: String
        public var uid: Int?
        public var gid: Int?
        public var home: String
    }

    public struct HBARule: Sendable, Equatable {
        public var type: String
        public var database: String
        public var user: String
        public var address: String?
        public var method: String
        public init(type: String, database: String, user: String, address: String?, method: String) {
            self.type = type; self.database = database; self.user = user; self.address = address; self.method = method
        }
    }

    public struct PostgreSQL: Sendable {
        public var version: Int
        public var install: Install
        public var binDir: String
        public var dataDir: String
        public var archiveDir: String?
        public var backupDir: String?
        public var port: Int
        public var osUser: OSUser
        public var initdbOptions: [String]
        /// Effective server settings in output order: the profile, then the user's overrides.
        public var settings: [(key: String, value: String)]
        public var hba: [HBARule]
        public var environment: [(key: String, value: String)]
    }

    public enum ReplicationMode: String, CaseIterable, Sendable { case async, sync }

    public struct Replication: Sendable {
        public var user: String
        public var password: SecretRef
        public var mode: ReplicationMode
        public var conninfoOptions: [(key: String, value: String)]
    }

    /// The pcs command languages pgha generates (docs/architecture.md, "pcs dialects"); each
    /// later one is detected by the capability that sets it apart (PcsCapabilities.dialect).
    public enum PcsDialect: String, CaseIterable, Comparable, Sendable {
        /// pcs 0.9 (EL7, corosync 2): cluster auth, setup --name, resource master, Master/Slave.
        case v0_9 = "0.9"
        /// pcs 0.10 (EL8, Debian 11, corosync 3): host auth, setup NAME, promotable, Master/Slave.
        case v0_10 = "0.10"
        /// pcs 0.11 (EL9, Debian 12): Promoted/Unpromoted, `resource defaults update`.
        case v0_11 = "0.11"
        /// pcs 0.12 (EL10, Debian 13): as 0.11, and a constraint's score as `score=`.
        case v0_12 = "0.12"

        public static func < (a: PcsDialect, b: PcsDialect) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    public struct Operation: Sendable, Equatable {
        public var name: String          // start, monitor, promote, …
        public var role: String?         // "promoted" for the primary's monitor
        public var timeout: String
        public var interval: String
        public var onFail: String?
    }

    public struct CloneOptions: Sendable {
        public var promotedMax: Int
        public var promotedNodeMax: Int
        public var cloneMax: Int
        public var cloneNodeMax: Int
        public var notify: Bool
    }

    public struct FencingDevice: Sendable {
        public var name: String
        public var type: String
        public var parameters: [(key: String, value: String)]
    }

    public enum Acknowledgement: String, CaseIterable, Sendable {
        case stonithDisabled = "stonith-disabled"
        case noQuorumPolicyIgnore = "no-quorum-policy-ignore"
    }

    public struct Pacemaker: Sendable {
        public var pcsDialect: PcsDialect?
        public var haclusterPassword: SecretRef
        public var lastManStanding: Bool
        public var properties: [(key: String, value: String)]
        public var resourceDefaults: [(key: String, value: String)]
        public var pgsqlResource: String
        public var pgsqlClone: String
        public var restartOnPromote: Bool
        /// The agent's `xlog_check_count`: how many monitors of each standby must agree on the
        /// WAL locations before the newest one is promoted (nil: the agent's default, 3).
        public var xlogCheckCount: Int?
        public var tmpdir: String?
        public var operations: [Operation]
        public var clone: CloneOptions
        public var fencing: [FencingDevice]
        public var acknowledgements: [Acknowledgement]
        public var enableAtBoot: Bool
        /// Resources and constraints beyond pgha's own (Sources/PghaSpec/PacemakerObjects.swift).
        public var resources: [Resource] = []
        public var constraints: [Constraint] = []

        /// The Pacemaker section of a spec of topology pgpool: defaults only, never used.
        public static let unused = Pacemaker(
            pcsDialect: nil, haclusterPassword: .env("PGHA_HACLUSTER_PASSWORD"), lastManStanding: false, properties: [],
            resourceDefaults: [], pgsqlResource: SeedDefaults.pgsqlResource, pgsqlClone: SeedDefaults.pgsqlClone,
            restartOnPromote: false, xlogCheckCount: nil, tmpdir: nil, operations: [],
            clone: SeedDefaults.clone, fencing: [], acknowledgements: [], enableAtBoot: true)

        /// Pacemaker's reading of stonith-enabled (crm_is_true, see Grammar.pacemakerIsTrue): unset
        /// means enabled; set, only true, on, yes, y or 1 (any case) enable it, anything else
        /// (off, no, 0, False, …) counts as disabled and needs the stonith-disabled acknowledgement.
        public var stonithEnabled: Bool {
            guard let value = properties.last(where: { $0.key == "stonith-enabled" })?.value else { return true }
            return Grammar.pacemakerIsTrue(value)
        }
    }

    public enum Firewall: String, CaseIterable, Sendable {
        case disabled, open = "open-ports", unmanaged
    }
    public enum SELinux: String, CaseIterable, Sendable { case disabled, permissive, enforcing, unmanaged }
    public enum TimeSyncService: String, CaseIterable, Sendable { case chrony, ntp, none }

    public struct HostsEntry: Sendable, Equatable {
        public var ip: String
        public var names: [String]
    }

    public struct OSPreparation: Sendable {
        public var manageHostsFile: Bool
        public var extraHosts: [HostsEntry]
        public var firewall: Firewall
        public var selinux: SELinux
        public var timeSync: TimeSyncService
        public var timeServers: [String]
    }

    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }
    public var standbys: [Node] { nodes.filter { $0.name != primary } }
}

/// How pgha reaches each node: one spec, several inventories (staging, production).
public struct Inventory: Sendable {
    public var file: String
    public var hosts: [String: Host]

    public enum TransportKind: String, CaseIterable, Sendable { case libssh2, openssh, local }
    public enum HostKeyPolicy: String, CaseIterable, Sendable { case strict, acceptNew = "accept-new" }

    public struct Host: Sendable {
        public var name: String
        public var address: String
        public var port: Int
        public var user: String
        public var keyFile: String?
        public var keyPassphrase: SecretRef?
        public var knownHosts: String
        public var hostKeyPolicy: HostKeyPolicy
        public var sudo: Bool
        public var transport: TransportKind
        public var sshConfig: String?
        public var connectTimeout: Int
        public var pcsDialect: ClusterSpec.PcsDialect?
    }
}

extension ClusterSpec.PcsDialect {
    /// The role words of a promotable clone's instances, in pcs commands and as crm_mon reports
    /// them: Pacemaker 2.1 (with pcs 0.11+) says Promoted/Unpromoted, older ones Master/Slave.
    /// The one place they are written.
    public var promotedRole: String { self >= .v0_11 ? "Promoted" : "Master" }
    public var unpromotedRole: String { self >= .v0_11 ? "Unpromoted" : "Slave" }
}
