import ArgumentParser
import Foundation
import PghaRuntime
import PghaSession

struct SwitchoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchover",
        abstract: "Move the primary role to a streaming standby without losing a committed transaction.",
        discussion: """
            Refused unless the cluster is healthy (pgha status exits 0) and the target streams. Pacemaker moves the promoted
            role (crm_resource --move), the temporary constraint is removed, and the old primary comes back as a standby
            without a rebuild. Without --to: the synchronous standby, else the one with the least lag. Holds the apply lock.
            Prints how long writes were unavailable (at most). Exit status: 0 done and healthy, 1 refused or failed.
            """)

    @OptionGroup var inputs: Inputs

    @Option(help: "The node to promote (a streaming standby).")
    var to: String?

    @Flag(name: .long, help: "Do not ask for confirmation (required when stdin is not a terminal).")
    var yes = false

    @Flag(name: [.short, .long], help: "Show every command run on the hosts.")
    var verbose = false

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        if !yes && isatty(0) == 0 {
            log("pgha switchover: error: stdin is not a terminal, so there is no one to confirm: add --yes")
            throw ExitCode.failure
        }
        try cli { try LoadedSpec.load(inputs.session, requireInventory: true, requireDialect: false).requirePacemaker("switchover") }
        let session = try await cli { try await LiveSession.open(inputs.session, rebuild: [], log: verbose ? log : nil, lockForApply: true) }
        report(session.loaded.warnings)
        let spec = session.loaded.spec
        let before = await StatusSession.read(spec: spec, dialect: session.loaded.dialect, connections: session.connections)
        let choice: (from: String, to: String)
        do { choice = try Switchover.choose(before, to: to) } catch {
            await session.close()
            throw reported(error)
        }
        let target = before.nodes.first { $0.name == choice.to }
        let how = target?.replication.map { "streaming \($0.syncState), \(bytes($0.lagBytes ?? 0)) behind" } ?? ""
        print("Switchover of \(spec.name): \(choice.from) → \(choice.to) (\(how))")
        if !yes {
            print("Writes pause while \(choice.from) stops and \(choice.to) is promoted. Switch over? Only 'yes' is accepted: ", terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                print("Nothing was changed.")
                await session.close()
                throw ExitCode.failure
            }
        }
        do {
            let outcome = try await Switchover.run(session, from: choice.from, to: choice.to) { line in print("  … \(line)"); fflush(stdout) }
            await session.close()
            print(StatusText.render(outcome.report, color: isatty(1) != 0), terminator: "")
            print(String(format: "Switchover complete in %.1f s: %@ is the primary; writes were unavailable for at most %.1f s.",
                         outcome.seconds, outcome.to, outcome.writeGap))
            if outcome.report.health != .healthy { throw ExitCode.failure }
        } catch let error as ExitCode {
            throw error
        } catch {
            await session.close()
            throw reported(error)
        }
    }
}
