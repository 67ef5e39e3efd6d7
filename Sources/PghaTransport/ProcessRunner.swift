import Foundation

/// Runs a local program with stdin, reading stdout and stderr at the same time (a child that
/// fills one pipe while we wait on the other would otherwise deadlock), with a deadline.
enum ProcessRunner {
    /// The pieces of an Output as the reader threads produce them.
    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var value = Output(stdout: Data(), stderr: Data(), status: 0, signal: nil, timedOut: false)
        func set(_ change: (inout Output) -> Void) { lock.lock(); change(&value); lock.unlock() }
        var output: Output { lock.lock(); defer { lock.unlock() }; return value }
    }

    struct Output {
        var stdout: Data
        var stderr: Data
        var status: Int32
        var signal: Int32?
        var timedOut: Bool
    }

    static func run(_ executable: String, _ arguments: [String], stdin: Data?, timeout: Duration?,
                    environment: [String: String]? = nil) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            if let environment { process.environment = environment }
            let input = Pipe(), output = Pipe(), errors = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = errors
            let group = DispatchGroup()
            let box = Collected()
            process.terminationHandler = { _ in group.leave() }
            group.enter()
            do { try process.run() } catch {
                continuation.resume(throwing: error)
                return
            }
            group.enter()
            DispatchQueue.global().async {
                let data = readAll(output.fileHandleForReading.fileDescriptor)
                box.set { $0.stdout = data }
                group.leave()
            }
            group.enter()
            DispatchQueue.global().async {
                let data = readAll(errors.fileHandleForReading.fileDescriptor)
                box.set { $0.stderr = data }
                group.leave()
            }
            DispatchQueue.global().async {
                if let stdin, !stdin.isEmpty { writeAll(input.fileHandleForWriting.fileDescriptor, stdin) }
                try? input.fileHandleForWriting.close()
            }
            if let timeout {
                let nanoseconds = UInt64(timeout.components.seconds) * 1_000_000_000 + UInt64(timeout.components.attoseconds / 1_000_000_000)
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) {
                    if process.isRunning {
                        box.set { $0.timedOut = true }
                        process.terminate()
                    }
                }
            }
            group.notify(queue: .global()) {
                let signalled = process.terminationReason == .uncaughtSignal
                box.set {
                    $0.status = signalled ? 0 : process.terminationStatus
                    $0.signal = signalled ? process.terminationStatus : nil
                }
                continuation.resume(returning: box.output)
            }
        }
    }

    /// read(2) until EOF, retrying when a signal interrupts (Foundation's readDataToEndOfFile
    /// traps on EINTR, and SIGCHLD of other children arrives all the time here).
    static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data.append(contentsOf: buffer[0..<n]) }
            else if n == 0 { return data }
            else if errno != EINTR { return data }
        }
    }

    static func writeAll(_ fd: Int32, _ data: Data) {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}
