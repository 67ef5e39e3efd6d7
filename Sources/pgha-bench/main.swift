// pgha-bench: benchmarks that print numbers (never timed assertions in tests).
//   pgha-bench spec [NODES]     validate + render + offline plan of a generated spec
//   pgha-bench transport …      SSH transports: connect, per-command round trip, parallel hosts
//   pgha-bench plan [--nodes N]  pgha plan on the test bed vs the floor of one round trip per host
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "spec": try SpecBench.run(Array(arguments.dropFirst()))
    case "transport": try await TransportBench.run(Array(arguments.dropFirst()))
    case "plan": try await PlanBench.run(Array(arguments.dropFirst()))
    default:
        print("usage: pgha-bench spec [NODES] | pgha-bench transport [options] | pgha-bench plan [--nodes N]")
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("pgha-bench: \(error)\n".utf8))
    exit(1)
}
