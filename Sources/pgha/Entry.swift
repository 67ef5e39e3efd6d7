import ArgumentParser
import Foundation

/// Runs the command; every error exits 1 (usage errors too: swift-argument-parser's 64 would
/// break the plan's exit contract of 0 no changes, 2 changes pending, 1 error).
@main
enum Entry {
    static func main() async {
        do {
            var command = try Pgha.parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            let code = Pgha.exitCode(for: error)
            if code == .success || code.rawValue == 2 && error is ExitCode { Pgha.exit(withError: error) }
            let message = Pgha.fullMessage(for: error)
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            exit(code == .success ? 0 : 1)
        }
    }
}
