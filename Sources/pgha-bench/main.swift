// pgha-bench: benchmarks that print numbers (never timed assertions in tests).
//   pgha-bench spec [NODES]     validate + render + offline plan of a generated spec
//   pgha-bench transport …      SSH transports: connect, per-command round trip, parallel hosts
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "spec": try SpecBench.run(Array(arguments.dropFirst()))
    case "transport": try await TransportBench.run(Array(arguments.dropFirst()))
    default:
        print("usage: pgha-bench spec [NODES] | pgha-bench transport [options]")
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("pgha-bench: \(error)\n".utf8))
    exit(1)
}
