import Foundation
import PghaTransport

/// `pgha-bench transport [--ssh-config FILE HOST…] [--commands N] [--transports libssh2,openssh]`
///
/// For each SSH transport: connect + authenticate time, the median and p95 round trip of N
/// (200) `true` commands on one connection, and the wall time of one command on 8 hosts at once
/// against one host. Hosts come from an ssh_config (e.g. the test bed's `.testbed/ssh_config`
/// with node1…node8), or else 8 separate connections to a throwaway local sshd
/// (scripts/sshd-fixture).
enum TransportBench {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func run(_ arguments: [String]) async throws {
        var sshConfig: String?
        var hosts: [String] = []
        var commands = 200
        var kinds: [TransportKind] = [.libssh2, .openssh]
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--ssh-config":
                guard let file = rest.popFirst() else { throw Failure(description: "--ssh-config needs a file") }
                sshConfig = file
            case "--commands":
                guard let value = rest.popFirst().flatMap(Int.init), value > 0 else { throw Failure(description: "--commands needs a positive number") }
                commands = value
            case "--transports":
                guard let value = rest.popFirst() else { throw Failure(description: "--transports needs a list, e.g. libssh2,openssh") }
                kinds = try value.split(separator: ",").map {
                    guard let kind = TransportKind(rawValue: String($0)), kind != .local else { throw Failure(description: "unknown SSH transport \($0)") }
                    return kind
                }
            case "-h", "--help":
                print("usage: pgha-bench transport [--ssh-config FILE HOST…] [--commands N] [--transports libssh2,openssh]")
                return
            default:
                if argument.hasPrefix("-") { throw Failure(description: "unknown option \(argument)") }
                hosts.append(argument)
            }
        }

        var fixture: String?
        let endpoints: [HostEndpoint]
        if let sshConfig {
            guard !hosts.isEmpty else { throw Failure(description: "name the hosts of \(sshConfig) to use, e.g. node1 … node8") }
            let config = try SSHConfig(path: sshConfig)
            endpoints = hosts.map { config.endpoint(for: $0, file: sshConfig) }
            print("hosts: \(hosts.joined(separator: " ")) from \(sshConfig)")
        } else {
            let directory = NSTemporaryDirectory() + "pgha-bench-sshd-\(getpid())"
            let output = try shell("\(fixtureScript()) start \(directory)")
            guard let port = output.split(separator: " ").first(where: { $0.hasPrefix("port=") }).flatMap({ Int($0.dropFirst(5)) }) else {
                throw Failure(description: "scripts/sshd-fixture printed no port: \(output)")
            }
            fixture = directory
            endpoints = (1...8).map {
                HostEndpoint(name: "node\($0)", address: "127.0.0.1", port: port, user: "root", keyFile: directory + "/id_ed25519",
                             knownHostsFile: directory + "/known_hosts", connectTimeout: 10)
            }
            print("hosts: 8 connections to a throwaway sshd on 127.0.0.1:\(port) (scripts/sshd-fixture; SHLVL=1, so root's ~/.bashrc is not sourced)")
        }
        defer { if let fixture { _ = try? shell("\(fixtureScript()) stop \(fixture)") } }

        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; \(commands) commands per round-trip measurement")
        print("transport  connect+auth  per command (median / p95)  1 command: 1 host / \(endpoints.count) hosts at once   sleep 0.2: 1 host / \(endpoints.count) hosts")
        for kind in kinds {
            do {
                try await measure(kind, endpoints, commands: commands)
            } catch {
                print("\(kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  failed: \(error)")
            }
        }
    }

    static func measure(_ kind: TransportKind, _ endpoints: [HostEndpoint], commands: Int) async throws {
        guard let first = endpoints.first else { return }
        // Connect + authenticate: best of a few, median reported.
        var connects: [Duration] = []
        for _ in 0..<5 {
            let started = ContinuousClock.now
            let transport = try await makeTransport(kind, endpoint: first)
            connects.append(ContinuousClock.now - started)
            await transport.close()
        }
        // Round trips on one connection.
        let transport = try await makeTransport(kind, endpoint: first)
        var trips: [Duration] = []
        for _ in 0..<commands {
            let started = ContinuousClock.now
            let result = try await transport.exec("true")
            trips.append(ContinuousClock.now - started)
            guard result.succeeded else { throw Failure(description: "`true` failed: \(result.outcome)") }
        }
        await transport.close()
        // One command on one host vs on every host at once (connections already open).
        let all = try await withThrowingTaskGroup(of: (Int, any Transport).self) { group in
            for (index, endpoint) in endpoints.enumerated() { group.addTask { (index, try await makeTransport(kind, endpoint: endpoint)) } }
            var opened: [(Int, any Transport)] = []
            for try await pair in group { opened.append(pair) }
            return opened.sorted { $0.0 < $1.0 }.map(\.1)
        }
        func wall(_ command: String, on transports: [any Transport]) async throws -> Duration {
            var samples: [Duration] = []
            for _ in 0..<7 {
                let started = ContinuousClock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for transport in transports { group.addTask { _ = try await transport.check(command) } }
                    try await group.waitForAll()
                }
                samples.append(ContinuousClock.now - started)
            }
            return median(samples)
        }
        let oneTrue: Duration, allTrue: Duration, oneSleep: Duration, allSleep: Duration
        do {
            oneTrue = try await wall("true", on: Array(all.prefix(1)))
            allTrue = try await wall("true", on: all)
            oneSleep = try await wall("sleep 0.2", on: Array(all.prefix(1)))
            allSleep = try await wall("sleep 0.2", on: all)
        } catch {
            for transport in all { await transport.close() }
            throw error
        }
        for transport in all { await transport.close() }
        let name = kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
        print("\(name)  \(ms(median(connects)).leftPad(9))     \(ms(median(trips)).leftPad(9) + " / " + ms(percentile(trips, 95)).leftPad(9))          \(ms(oneTrue).leftPad(9)) / \(ms(allTrue).leftPad(9))               \(ms(oneSleep).leftPad(9)) / \(ms(allSleep).leftPad(9))")
    }

    static func median(_ samples: [Duration]) -> Duration { percentile(samples, 50) }

    static func percentile(_ samples: [Duration], _ p: Int) -> Duration {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return .zero }
        return sorted[min(sorted.count - 1, sorted.count * p / 100)]
    }

    static func ms(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return String(format: "%.2f ms", value)
    }

    static func fixtureScript() -> String {
        let candidates = [FileManager.default.currentDirectoryPath + "/scripts/sshd-fixture",
                          URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/scripts/sshd-fixture"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    /// Runs a command through bash with output in a file (the fixture leaves daemons running).
    static func shell(_ command: String) throws -> String {
        let output = NSTemporaryDirectory() + "pgha-bench-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", command + " 2>&1"]
        process.standardOutput = FileHandle(forWritingAtPath: output)
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: FileManager.default.contents(atPath: output) ?? Data(), as: UTF8.self)
        guard process.terminationStatus == 0 else { throw Failure(description: "`\(command)` failed: \(text)") }
        return text
    }
}

/// The few ssh_config keywords the benchmark needs to reach a host with libssh2 too.
struct SSHConfig {
    var blocks: [(patterns: [String], options: [String: String])] = []

    init(path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TransportBench.Failure(description: "cannot read \(path)")
        }
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" || $0 == "=" }).map(String.init)
            guard parts.count == 2 else { continue }
            let key = parts[0].lowercased(), value = parts[1].trimmingCharacters(in: .whitespaces)
            if key == "host" {
                blocks.append((value.split(separator: " ").map(String.init), [:]))
            } else if !blocks.isEmpty, blocks[blocks.count - 1].options[key] == nil {
                blocks[blocks.count - 1].options[key] = value
            }
        }
    }

    func value(_ key: String, for host: String) -> String? {
        for block in blocks where block.patterns.contains(host) || block.patterns.contains("*") {
            if let value = block.options[key] { return value }
        }
        return nil
    }

    func endpoint(for host: String, file: String) -> HostEndpoint {
        HostEndpoint(name: host, address: value("hostname", for: host) ?? host, port: value("port", for: host).flatMap(Int.init) ?? 22,
                     user: value("user", for: host) ?? "root", keyFile: value("identityfile", for: host),
                     knownHostsFile: value("userknownhostsfile", for: host) ?? "~/.ssh/known_hosts",
                     sshConfig: file, connectTimeout: value("connecttimeout", for: host).flatMap(Int.init) ?? 10)
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
