import Foundation
import PghaShell
import PghaSpec

// The operating system of each node (seeds 000/001, "OS preparation"): firewall, SELinux,
// time sync. The decisions are FirewallPlan and TimeSyncPlan (OSPreparationSteps.swift).

/// The firewall as `os.firewall` says: stopped, or open for PostgreSQL, pcsd and corosync.
public struct FirewallStep: Step {
    public let host: String
    public let name = "firewall"
    public var dependsOn: [String] = []
    public let mode: ClusterSpec.Firewall
    public let ports: [String]
    let port: Int

    public static let state = Probe("firewall", FirewallPlan.probe)

    public init(host: String, spec: ClusterSpec) {
        self.host = host
        self.mode = spec.os.firewall
        self.port = spec.postgresql.port
        // Topology pgpool: PostgreSQL, pgpool's port, the watchdog (tcp) and its heartbeat (udp).
        if let pgpool = spec.pgpool {
            self.ports = ["\(port)/tcp", "\(pgpool.port)/tcp", "\(pgpool.watchdogPort)/tcp", "\(pgpool.heartbeatPort)/udp"]
        } else {
            self.ports = FirewallPlan.ports(postgresPort: port)
        }
    }

    public var summary: String {
        switch mode {
        case .disabled: return "stop and disable the firewall (firewalld/ufw)"
        case .open where ports.count == 4: return "open \(ports.joined(separator: ", ")) (PostgreSQL, pgpool-II, its watchdog and heartbeat)"
        case .open: return "open tcp \(port), tcp 2224 (pcsd), udp 5404-5406 (corosync)"
        case .unmanaged: return "leave the firewall as it is"
        }
    }

    public func probe(_ script: inout FactScript) { script.add(Self.state) }

    func commands(_ facts: Facts) throws -> (summary: String, commands: [Command])? {
        try FirewallPlan.commands(mode: mode, probe: facts[Self.state], ports: ports, host: host)
    }

    public func decide(_ facts: Facts) throws -> Change? { try commands(facts).map { Change(.update, $0.summary) } }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        for command in try commands(facts)?.commands ?? [] { _ = try await run(command, on: connection) }
    }
}

/// SELINUX= in /etc/selinux/config (EL hosts; a host without SELinux has nothing to change).
public struct SELinuxStep: Step {
    public let host: String
    public let name = "selinux"
    public var dependsOn: [String] = []
    public let mode: ClusterSpec.SELinux

    /// The SELINUX= line of the configuration, or nil where the host has no SELinux.
    public static let state = Probe("selinux", "grep -E '^SELINUX=' /etc/selinux/config 2>/dev/null; echo current=$(getenforce 2>/dev/null)") { text in
        text.split(separator: "\n").first(where: { $0.hasPrefix("SELINUX=") }).map(String.init)
    }

    public init(host: String, spec: ClusterSpec) {
        self.host = host
        self.mode = spec.os.selinux
    }

    public var summary: String { "SELinux \(mode.rawValue) in /etc/selinux/config (EL only; reports when a reboot is needed)" }

    public func probe(_ script: inout FactScript) { script.add(Self.state) }

    public func decide(_ facts: Facts) throws -> Change? {
        guard mode != .unmanaged, let line = facts[Self.state] else { return nil }
        let want = "SELINUX=\(mode.rawValue)"
        return line == want ? nil : Change(.update, "\(line) → \(want) (takes full effect after a reboot)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        let edit = Command("sed", "-i", "s/^SELINUX=.*/SELINUX=\(mode.rawValue)/", "/etc/selinux/config").shell
        // setenforce switches between enforcing and permissive now; disabled needs the reboot.
        let now: [Shell] = mode == .disabled ? [] : ["{ \(Command("setenforce", mode == .enforcing ? "1" : "0")) 2>/dev/null || true; }"]
        _ = try await run(Shell.all([edit] + now), on: connection)
    }
}

/// chrony or ntp with the spec's servers, enabled and running.
public struct TimeSyncStep: Step {
    public let host: String
    public let name = "time-sync"
    public var dependsOn: [String] = []
    public let service: ClusterSpec.TimeSyncService
    public let servers: [String]

    public init(host: String, spec: ClusterSpec) {
        self.host = host
        self.service = spec.os.timeSync
        self.servers = spec.os.timeServers
    }

    var state: Probe<TimeSyncPlan.State> { Probe("time-sync", TimeSyncPlan.probe(service)) { TimeSyncPlan.State($0) } }

    public var summary: String { "\(service.rawValue) with servers \(servers.joined(separator: ", ")), enabled and running" }

    public func probe(_ script: inout FactScript) { script.add(state) }

    public func decide(_ facts: Facts) throws -> Change? {
        let state = facts[state]
        return describe(TimeSyncPlan.actions(service: service, servers: servers, state: state), state)
    }

    func describe(_ actions: [TimeSyncPlan.Action], _ state: TimeSyncPlan.State) -> Change? {
        guard !actions.isEmpty else { return nil }
        var words: [String] = [], diff: String?
        for action in actions {
            switch action {
            case .install: words.append("install \(service.rawValue), servers \(servers.joined(separator: ", ")), enable and start it")
            case let .configure(path, content, restart):
                words.append("servers \(servers.joined(separator: ", ")) in \(path)\(restart ? ", restart" : "")")
                diff = unifiedDiff(old: state.content ?? "", new: content, oldName: path, newName: path)
            case .enable: words.append("enable and start \(service.rawValue)")
            }
        }
        return Change(actions.first == .install ? .create : .update, words.joined(separator: "; "), diff: diff)
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        var state = facts[state]
        var actions = TimeSyncPlan.actions(service: service, servers: servers, state: state)
        if actions.first == .install {
            _ = try await run(installPackagesCommand([service.rawValue]), on: connection)
            state = TimeSyncPlan.State(try await run(self.state.command, on: connection, display: "read the \(service.rawValue) configuration").stdout)
            actions = TimeSyncPlan.actions(service: service, servers: servers, state: state)
            if actions.first == .install {
                throw fail("\(service.rawValue) is installed but none of \(TimeSyncPlan.configPaths(service).joined(separator: ", ")) exists")
            }
        }
        // The first unit name the host knows.
        let units = TimeSyncPlan.units(service)
        func anyUnit(_ verb: [String]) -> Shell {
            Shell.join(units.map { "\(Command(["systemctl"] + verb + [$0])) 2>/dev/null" }, separator: " || ")
        }
        for action in actions {
            switch action {
            case .install: break
            case let .configure(path, content, restart):
                try await connection.upload(Data(content.utf8), to: path, mode: 0o644, owner: "root", group: "root")
                if restart { _ = try await run(anyUnit(["restart"]), on: connection) }
            case .enable:
                _ = try await run(anyUnit(["enable", "--now"]), on: connection)
            }
        }
    }
}
