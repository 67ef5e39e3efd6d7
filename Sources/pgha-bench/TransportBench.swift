// Placeholder until the transport benchmark lands (owned by the transport work).
enum TransportBench {
    struct NotAvailable: Error, CustomStringConvertible { var description: String { "the transport benchmark is not built yet" } }
    static func run(_ arguments: [String]) async throws { throw NotAvailable() }
}
