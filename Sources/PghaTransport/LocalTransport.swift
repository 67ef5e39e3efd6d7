import Foundation

/// The machine pgha runs on, as a host.
public struct LocalTransport: Transport {
    public let host: String
    let useSudo: Bool

    public init(host: String, useSudo: Bool = false) {
        self.host = host
        self.useSudo = useSudo && getuid() != 0
    }

    public func exec(_ command: String, stdin: Data?, timeout: Duration?) async throws -> ExecResult {
        let wrapped = wrapRemote(command, sudo: useSudo)
        let result = try await ProcessRunner.run("/bin/sh", ["-c", wrapped], stdin: stdin, timeout: timeout)
        if result.timedOut { throw TransportError(host: host, "`\(command.prefix(80))` did not finish in time and was stopped") }
        return ExecResult(stdout: result.stdout, stderr: result.stderr, exitStatus: result.status,
                          exitSignal: result.signal.map(signalName))
    }

    public func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String?, group: String?) async throws {
        let result = try await exec(uploadCommand(to: path, mode: mode, owner: owner, group: group), stdin: bytes, timeout: .seconds(60))
        guard result.succeeded else { throw TransportError(host: host, "upload to \(path) failed: \(result.stderrText)") }
    }

    public func close() async {}
}

func signalName(_ number: Int32) -> String {
    switch number {
    case 1: return "HUP"
    case 2: return "INT"
    case 6: return "ABRT"
    case 9: return "KILL"
    case 11: return "SEGV"
    case 13: return "PIPE"
    case 15: return "TERM"
    default: return String(number)
    }
}
