import ArgumentParser
import Foundation
import PghaRuntime
import PghaSpec
import PghaTransport

/// A transport seen as the runtime's HostConnection, with `-v` command logging (secrets never
/// appear in commands: they travel on stdin).
struct TransportConnection: HostConnection {
    let transport: any Transport
    let verbose: Bool
    var name: String { transport.host }

    func run(_ command: String, stdin: Data?) async throws -> CommandResult {
        if verbose { log("\(name)$ \(command.count > 400 ? String(command.prefix(400)) + " …" : command)") }
        let result = try await transport.exec(command, stdin: stdin, timeout: .seconds(600))
        return CommandResult(stdout: result.stdoutText, stderr: result.stderrText, status: result.exitStatus, signal: result.exitSignal)
    }

    func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String, group: String) async throws {
        if verbose { log("\(name): upload \(path) (\(bytes.count) bytes, \(String(mode, radix: 8)) \(owner):\(group))") }
        try await transport.upload(bytes, to: path, mode: mode, owner: owner, group: group)
    }
}

func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

/// One connection per host, opened in parallel; every failure is reported, then the run stops.
func connect(_ spec: ClusterSpec, _ inventory: Inventory, verbose: Bool) async throws -> [String: any HostConnection] {
    var problems: [String] = []
    var connections: [String: any HostConnection] = [:]
    await withTaskGroup(of: (String, Result<any Transport, Error>).self) { group in
        for node in spec.nodes {
            guard let host = inventory.hosts[node.name] else { continue }
            group.addTask {
                do {
                    let passphrase = try host.keyPassphrase?.resolve()
                    let endpoint = HostEndpoint(name: host.name, address: host.address, port: host.port, user: host.user,
                                                keyFile: host.keyFile, keyPassphrase: passphrase, knownHostsFile: host.knownHosts,
                                                hostKeyPolicy: host.hostKeyPolicy == .strict ? .strict : .acceptNew,
                                                useSudo: host.sudo, sshConfig: host.sshConfig, connectTimeout: host.connectTimeout)
                    let kind = TransportKind(rawValue: host.transport.rawValue) ?? .openssh
                    return (node.name, .success(try await makeTransport(kind, endpoint: endpoint)))
                } catch {
                    return (node.name, .failure(error))
                }
            }
        }
        for await (name, result) in group {
            switch result {
            case .success(let transport): connections[name] = TransportConnection(transport: transport, verbose: verbose)
            case .failure(let error): problems.append("error: \(error)")
            }
        }
    }
    if !problems.isEmpty {
        for problem in problems.sorted() { log(problem) }
        throw ExitCode.failure
    }
    return connections
}

