import Foundation
import Yams

/// Reads an inventory: `defaults:` for every host plus per-host overrides under `hosts:`.
/// Relative paths are resolved against the inventory file's folder, so an inventory can be
/// committed next to the keys it names.
public enum InventoryLoader {
    static let hostKeys = ["address", "port", "user", "key", "key_passphrase", "known_hosts", "host_key_policy",
                           "sudo", "transport", "ssh_config", "connect_timeout", "pcs_dialect"]

    public static func load(path: String, displayPath: String? = nil) -> LoadResult<Inventory> {
        let shown = displayPath ?? path
        let (root, problems) = YAMLSource.load(path: path, displayPath: shown)
        guard let root else { return LoadResult(value: nil, diagnostics: problems) }
        let base = ((path as NSString).deletingLastPathComponent as NSString).standardizingPath
        return decode(root, file: shown, baseDirectory: base.isEmpty ? "." : base)
    }

    public static func load(yaml: String, file: String, baseDirectory: String) -> LoadResult<Inventory> {
        let (root, problems) = YAMLSource.parse(data: Data(yaml.utf8), file: file)
        guard let root else { return LoadResult(value: nil, diagnostics: problems) }
        return decode(root, file: file, baseDirectory: baseDirectory)
    }

    static func decode(_ root: Yams.Node, file: String, baseDirectory: String) -> LoadResult<Inventory> {
        let r = NodeReader(file: file)
        r.refuseControlCharacters(root)
        guard let top = r.mapping(root, "", allowed: ["defaults", "hosts"], required: ["hosts"]) else {
            return LoadResult(value: nil, diagnostics: r.diagnostics.sortedByPosition())
        }
        let defaults = r.mapping(top["defaults"], "defaults", allowed: hostKeys.filter { $0 != "address" })
        var hosts: [String: Inventory.Host] = [:]
        var endpoints: [String: String] = [:]   // address:port → the first host name with it
        if let hostsNode = top["hosts"], case .mapping(let mapping) = hostsNode {
            _ = r.mapping(hostsNode, "hosts", allowed: [])  // records the position
            for (keyNode, value) in mapping {
                guard let name = keyNode.scalar?.string else { continue }
                let path = "hosts.\(name)"
                if !Grammar.isHostName(name) {
                    r.keyError(path, "'\(name)' is not a host name (letters, digits, '-' and '.'); name the host as its node is named in the spec")
                }
                guard let fields = r.mapping(value, path, allowed: hostKeys, required: ["address"]) else { continue }
                func pick(_ key: String) -> (Yams.Node?, String) {
                    fields[key] != nil ? (fields[key], "\(path).\(key)") : (defaults?[key], "defaults.\(key)")
                }
                func resolve(_ p: String) -> String {
                    if p.hasPrefix("~/") { return (ProcessInfo.processInfo.environment["HOME"] ?? "/root") + p.dropFirst() }
                    return p.hasPrefix("/") ? p : ((baseDirectory as NSString).appendingPathComponent(p) as NSString).standardizingPath
                }
                /// A path as written, checked, then resolved; the folder and $HOME it is resolved
                /// against are the operator's own and not checked.
                func localPath(_ node: Yams.Node?, _ p: String) -> String? {
                    guard let text = r.string(node, p) else { return nil }
                    if let problem = Grammar.localPathProblem(text) { r.error(p, "'\(text)' \(problem)") }
                    return resolve(text)
                }
                let address = r.string(fields["address"], "\(path).address")
                if let address, !Grammar.isHostNameOrIPv4(address) {
                    r.error("\(path).address", "'\(address)' is neither an IPv4 address nor a host name")
                }
                let (portNode, portPath) = pick("port")
                let (userNode, userPath) = pick("user")
                let (keyNode, keyPath) = pick("key")
                let (passNode, passPath) = pick("key_passphrase")
                let (khNode, khPath) = pick("known_hosts")
                let (policyNode, policyPath) = pick("host_key_policy")
                let (sudoNode, sudoPath) = pick("sudo")
                let (transportNode, transportPath) = pick("transport")
                let (configNode, configPath) = pick("ssh_config")
                let (timeoutNode, timeoutPath) = pick("connect_timeout")
                let (dialectNode, dialectPath) = pick("pcs_dialect")
                let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
                let user = r.string(userNode, userPath) ?? "root"
                if !Grammar.matches(user, Grammar.userName) {
                    r.error(userPath, "'\(user)' is not a user name (lower-case letters, digits, '_' and '-', at most 32, not starting with a digit or '-')")
                }
                let host = Inventory.Host(
                    name: name, address: address ?? "",
                    port: r.int(portNode, portPath, range: 1...65535) ?? 22,
                    user: user,
                    keyFile: localPath(keyNode, keyPath),
                    keyPassphrase: r.secret(passNode, passPath, suggestedEnv: "PGHA_SSH_KEY_PASSPHRASE"),
                    knownHosts: localPath(khNode, khPath) ?? "\(home)/.ssh/known_hosts",
                    hostKeyPolicy: policyNode.flatMap { r.choice($0, policyPath, Inventory.HostKeyPolicy.self) } ?? .strict,
                    sudo: r.bool(sudoNode, sudoPath) ?? false,
                    transport: transportNode.flatMap { r.choice($0, transportPath, Inventory.TransportKind.self) } ?? .libssh2,
                    sshConfig: localPath(configNode, configPath),
                    connectTimeout: r.int(timeoutNode, timeoutPath, range: 1...600) ?? 10,
                    pcsDialect: dialectNode.flatMap { r.choice($0, dialectPath, ClusterSpec.PcsDialect.self) })
                if host.user != "root" && !host.sudo {
                    r.warning(userPath, "user '\(host.user)' is not root and sudo is false; pgha needs root on the hosts (set sudo: true)")
                }
                // One machine under two names would be changed twice by one apply, each time as another node.
                let endpoint = "\(host.address):\(host.port)"
                if !host.address.isEmpty, let other = endpoints[endpoint] {
                    r.error("\(path).address", "\(host.address) is also \(other)'s address; each node is its own host (one apply would change one machine twice)")
                } else {
                    endpoints[endpoint] = name
                }
                hosts[name] = host
            }
        } else if let hostsNode = top["hosts"] {
            r.error("hosts", "expected a mapping of node names to their connection settings, found \(NodeReader.describe(hostsNode))", at: hostsNode)
        }
        let diagnostics = r.diagnostics.sortedByPosition()
        return LoadResult(value: diagnostics.hasErrors ? nil : Inventory(file: file, hosts: hosts), diagnostics: diagnostics)
    }

    /// Cross-checks: the inventory reaches every node of the spec, and one pcs dialect is named.
    public static func check(_ inventory: Inventory, against spec: ClusterSpec, inventoryReader file: String) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for node in spec.nodes where inventory.hosts[node.name] == nil {
            diagnostics.append(Diagnostic(file: file, line: 0, column: 0,
                message: "hosts: node '\(node.name)' of \(spec.file) is missing; add it under hosts: with its address"))
        }
        for name in inventory.hosts.keys.sorted() where spec.node(named: name) == nil {
            diagnostics.append(Diagnostic(file: file, line: 0, column: 0, severity: .warning,
                message: "hosts: '\(name)' is not a node of \(spec.file) and will not be used"))
        }
        let dialects = Set(spec.nodes.compactMap { inventory.hosts[$0.name]?.pcsDialect })
        if dialects.count > 1 {
            diagnostics.append(Diagnostic(file: file, line: 0, column: 0,
                message: "hosts name different pcs dialects (\(dialects.map(\.rawValue).sorted().joined(separator: ", "))); a cluster runs one pcs version"))
        }
        return diagnostics
    }
}

extension ClusterSpec {
    /// The pcs dialect to generate for: the spec's, else the inventory's.
    public func dialect(with inventory: Inventory?) -> PcsDialect? {
        pacemaker.pcsDialect ?? nodes.lazy.compactMap { inventory?.hosts[$0.name]?.pcsDialect }.first
    }
}
