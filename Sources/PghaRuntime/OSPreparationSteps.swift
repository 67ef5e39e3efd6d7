import Foundation
import PghaShell
import PghaRender
import PghaSpec

/// Firewall and time sync (seeds 000/001 §OS preparation), each a pure decision over what the
/// host reports, so they are unit-tested without an EL host.
public enum FirewallPlan {
    /// The ports a PostgreSQL + Pacemaker node needs: PostgreSQL, pcsd, corosync (knet/udpu).
    public static func ports(postgresPort: Int) -> [String] { ["\(postgresPort)/tcp", "2224/tcp", "5404-5406/udp"] }

    public static let probe: Shell = """
        for s in firewalld ufw nftables; do echo "$s=$(systemctl is-active $s 2>/dev/null)"; done
        if [ "$(systemctl is-active firewalld 2>/dev/null)" = active ]; then echo "firewalld-ports=$(firewall-cmd --list-ports 2>/dev/null)"; fi
        if [ "$(systemctl is-active ufw 2>/dev/null)" = active ]; then ufw status 2>/dev/null | sed -n 's/^\\([0-9:/a-z]*\\) .*ALLOW.*/ufw-allow=\\1/p'; fi
        if command -v nft >/dev/null; then echo "nft-blocking=$(nft list ruleset 2>/dev/null | grep -cE 'policy drop|[[:space:]](drop|reject)([[:space:]]|$)')"; fi
        """

    struct State {
        var active: Set<String> = []
        var firewalldPorts: Set<String> = []
        var ufwAllowed: Set<String> = []
        var nftBlocking = 0
        init(_ text: String) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "firewalld", "ufw", "nftables": if parts[1] == "active" { active.insert(parts[0]) }
                case "firewalld-ports": firewalldPorts = Set(parts[1].split(separator: " ").map(String.init))
                case "ufw-allow": ufwAllowed.insert(parts[1])
                case "nft-blocking": nftBlocking = Int(parts[1]) ?? 0
                default: break
                }
            }
        }
    }

    /// ufw writes ranges with a colon.
    static func ufwName(_ port: String) -> String { port.replacingOccurrences(of: "-", with: ":") }

    /// The commands that bring the firewall to `mode`, or nil when it already is.
    public static func commands(mode: ClusterSpec.Firewall, probe text: String, ports: [String], host: String) throws -> (summary: String, commands: [Command])? {
        let state = State(text)
        switch mode {
        case .unmanaged:
            return nil
        case .disabled:
            let active = ["firewalld", "ufw"].filter { state.active.contains($0) }
            guard !active.isEmpty else { return nil }
            return ("stop and disable \(active.joined(separator: ", "))",
                    active.map { $0 == "ufw" ? Command("ufw", "disable") : Command("systemctl", "disable", "--now", $0) })
        case .open:
            if state.active.contains("firewalld") {
                let missing = ports.filter { !state.firewalldPorts.contains($0) }
                guard !missing.isEmpty else { return nil }
                return ("open \(missing.joined(separator: " ")) in firewalld (permanent and now)",
                        missing.map { Command("firewall-cmd", "--permanent", "--add-port=" + $0) } + [Command("firewall-cmd", "--reload")])
            }
            if state.active.contains("ufw") {
                let missing = ports.filter { !state.ufwAllowed.contains(ufwName($0)) }
                guard !missing.isEmpty else { return nil }
                return ("allow \(missing.joined(separator: " ")) in ufw", missing.map { Command("ufw", "allow", ufwName($0)) })
            }
            if state.nftBlocking > 0 {
                throw StepFailure(host: host, step: "firewall", message: "the nftables ruleset drops or rejects traffic and pgha manages firewalld and ufw, not raw nftables rules: allow \(ports.joined(separator: ", ")) yourself, or set os.firewall: unmanaged")
            }
            return nil
        }
    }
}

/// chrony or ntp with the spec's servers: a managed block of `server … iburst` lines in the
/// service's configuration file, the service enabled and running.
public enum TimeSyncPlan {
    /// Where each service keeps its configuration (Debian first, then EL).
    public static func configPaths(_ service: ClusterSpec.TimeSyncService) -> [String] {
        switch service {
        case .chrony: return ["/etc/chrony/chrony.conf", "/etc/chrony.conf"]
        case .ntp: return ["/etc/ntpsec/ntp.conf", "/etc/ntp.conf"]
        case .none: return []
        }
    }

    /// systemd unit names the service goes by.
    public static func units(_ service: ClusterSpec.TimeSyncService) -> [String] {
        switch service {
        case .chrony: return ["chrony", "chronyd"]
        case .ntp: return ["ntpsec", "ntp", "ntpd"]
        case .none: return []
        }
    }

    public static func probe(_ service: ClusterSpec.TimeSyncService) -> Shell {
        // Unit names and paths are pgha's own (above); quoted all the same.
        let units: [Shell] = units(service).map { unit in
            let label: String = "unit:" + unit + "="
            return "echo \(label)\"$(systemctl is-active \(unit) 2>/dev/null) $(systemctl is-enabled \(unit) 2>/dev/null)\""
        }
        let config: [Shell] = configPaths(service).map { path in
            let label: String = "config=" + path
            return "[ -f \(path) ] && { echo \(label); echo \"content=$(base64 -w0 < \(path))\"; }"
        }
        return Shell.join(units + ["{ \(Shell.join(config, separator: " || ")); } || true"])
    }

    public static func block(servers: [String]) -> String {
        ([ManagedBlock.begin + ": time servers of the cluster spec"] + servers.map { "server \($0) iburst" } + [ManagedBlock.end])
            .joined(separator: "\n") + "\n"
    }

    public struct State: Equatable {
        public var configPath: String?
        public var content: String?
        /// unit → (active, enabled)
        public var units: [String: (active: Bool, enabled: Bool)] = [:]
        public static func == (a: State, b: State) -> Bool { a.configPath == b.configPath && a.content == b.content }

        public init(_ text: String) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                if parts[0] == "config" { configPath = parts[1] }
                else if parts[0] == "content" { content = Data(base64Encoded: parts[1]).map { String(decoding: $0, as: UTF8.self) } }
                else if parts[0].hasPrefix("unit:") {
                    let words = parts[1].split(separator: " ").map(String.init)
                    units[String(parts[0].dropFirst(5))] = (words.first == "active", words.dropFirst().first == "enabled")
                }
            }
        }
        public var running: Bool { units.values.contains { $0.active && $0.enabled } }
    }

    public enum Action: Equatable {
        case install
        case configure(path: String, content: String, restart: Bool)
        case enable
    }

    /// What must happen, in order; empty when the service runs with the spec's servers.
    public static func actions(service: ClusterSpec.TimeSyncService, servers: [String], state: State) -> [Action] {
        guard service != .none else { return [] }
        guard let path = state.configPath, let content = state.content else { return [.install] }
        var actions: [Action] = []
        let desired = servers.isEmpty ? content : ManagedBlock.merge(existing: content, block: block(servers: servers))
        if desired != content { actions.append(.configure(path: path, content: desired, restart: state.running)) }
        if !state.running { actions.append(.enable) }
        return actions
    }
}
